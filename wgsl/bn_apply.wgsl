// y = (x - mean) · invstd · gamma + beta, per channel of an NHWC tensor; RELU: y = max(that, 0) in the same pass
// (a NaN is kept, as in relu.wgsl). INFER: `mean` and `invstd` are bound to the moving mean and variance, and
// bn_infer.wgsl's expression computes 1/sqrt(variance + eps) here (no separate statistics pass at inference).
struct P { n: u32, C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> invstd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
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
