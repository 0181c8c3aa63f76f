// Batch norm backward (training mode): dx = gamma·invstd·(dy - sum(dy)/n - xhat·sum(dy·xhat)/n),
// with sums[c] = sum(dy) (= dbeta) and sums[C + c] = sum(dy·xhat) (= dgamma). RELU: dy is the gradient after a
// fused ReLU whose output is z, masked where z ≤ 0 (as bn_grad_sums.wgsl; without RELU, z is not read).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let c = i % u.C;
  let is = invstd[c];
  let xhat = (x[i] - mean[c]) * is;
  let g = select(0.0, dy[i], !RELU || z[i] > 0.0);
  dx[i] = gamma[c] * is * (g - sums[c] / u.count - xhat * sums[u.C + c] / u.count);
}
