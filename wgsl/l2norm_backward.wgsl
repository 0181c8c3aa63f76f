// dx = inv·(dy - y·(y·dy)); where the norm was clamped by the epsilon, dx = inv·dy.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.rows) { return; }
  let base = i * u.D;
  let inv = norms[i * 2u];
  var dot = 0.0;
  if (norms[i * 2u + 1u] > 1e-12) {
    for (var d = 0u; d < u.D; d++) { dot = fma(y[base + d], dy[base + d], dot); }
  }
  for (var d = 0u; d < u.D; d++) { dx[base + d] = inv * (dy[base + d] - y[base + d] * dot); }
}
