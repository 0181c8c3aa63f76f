// Gradient of the class-weighted cross-entropy w.r.t. the logits: dz_k = dL·(p_k·sum_j w_j·y_j - w_k·y_k)/rows.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.rows) { return; }
  let base = i * u.K;
  var sw = 0.0;
  for (var k = 0u; k < u.K; k++) { sw = fma(wk[k], y[base + k], sw); }
  let scale = dloss[0] * u.invRows;
  for (var k = 0u; k < u.K; k++) { dz[base + k] = scale * (p[base + k] * sw - wk[k] * y[base + k]); }
}
