// Class index of the largest of each row of K logits (the label map of a segmentation), stored as f32.
// Ties go to the lowest index, as the wasm argmax does.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.rows) { return; }
  let base = i * u.K;
  var best = 0u;
  var mx = z[base];
  for (var k = 1u; k < u.K; k++) {
    let v = z[base + k];
    if (v > mx) { mx = v; best = k; }
  }
  labels[i] = f32(best);
}
