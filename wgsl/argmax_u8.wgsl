// The label map packed 4 labels to a u32 (byte j of word w: row 4w + j, K ≤ 256), so that a readback moves one
// byte per pixel instead of an f32's four. Same rule as argmax.wgsl (argmax_row.wgsl).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = flatIndex(gid, nwg);
  let r0 = w * 4u;
  if (r0 >= u.rows) { return; }
  var word = 0u;
  for (var j = 0u; j < 4u; j++) {
    let r = r0 + j;
    if (r >= u.rows) { break; }
    word = word | (argmaxRow(r) << (8u * j));
  }
  labels[w] = word;
}
