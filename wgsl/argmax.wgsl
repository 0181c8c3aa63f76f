// Class index of the largest of each row of K logits (the label map of a segmentation), stored as f32
// (argmax_row.wgsl).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.rows) { return; }
  labels[i] = f32(argmaxRow(i));
}
