// y = (x - mean) · invstd · gamma + beta, per channel of an NHWC tensor; RELU: y = max(that, 0) in the same pass
// (a NaN is kept, as in relu.wgsl). INFER: `mean` and `invstd` are bound to the moving mean and variance, and
// bn_infer.wgsl's expression computes 1/sqrt(variance + eps) here (no separate statistics pass at inference).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let c = i % u.C;
  var v: f32;
  if (INFER) {
    v = bnInfer(x[i], mean[c], invstd[c], gamma[c], beta[c], u.eps);
  } else {
    v = (x[i] - mean[c]) * invstd[c] * gamma[c] + beta[c];
  }
  y[i] = select(v, 0.0, RELU && v < 0.0);
}
