// Row-wise L2 normalisation as TF: y = x / sqrt(max(sum x², 1e-12)). Keeps 1/norm and sum x² per row.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.rows) { return; }
  let base = i * u.D;
  var s = 0.0;
  for (var d = 0u; d < u.D; d++) { s = fma(x[base + d], x[base + d], s); }
  let inv = 1.0 / sqrt(max(s, 1e-12));
  for (var d = 0u; d < u.D; d++) { y[base + d] = x[base + d] * inv; }
  norms[i * 2u] = inv;
  norms[i * 2u + 1u] = s;
}
