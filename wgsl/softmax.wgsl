// Softmax over the last (class) axis: one invocation per pixel row of K logits.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.rows) { return; }
  let base = i * u.K;
  var mx = z[base];
  for (var k = 1u; k < u.K; k++) { mx = max(mx, z[base + k]); }
  var s = 0.0;
  for (var k = 0u; k < u.K; k++) { s += exp(z[base + k] - mx); }
  for (var k = 0u; k < u.K; k++) { p[base + k] = exp(z[base + k] - mx) / s; }
}
