// Batch norm backward (training mode): dx = gamma·invstd·(dy - sum(dy)/n - xhat·sum(dy·xhat)/n),
// with sums[c] = sum(dy) (= dbeta) and sums[C + c] = sum(dy·xhat) (= dgamma). RELU: dy is the gradient after a
// fused ReLU whose output is z, masked where z ≤ 0 (as bn_grad_sums.wgsl; without RELU, z is not read).
struct P { n: u32, C: u32, count: f32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> z: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> invstd: array<f32>;
@group(0) @binding(6) var<storage, read> gamma: array<f32>;
@group(0) @binding(7) var<storage, read> sums: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let c = i % u.C;
  let is = invstd[c];
  let xhat = (x[i] - mean[c]) * is;
  let g = select(0.0, dy[i], !RELU || z[i] > 0.0);
  dx[i] = gamma[c] * is * (g - sums[c] / u.count - xhat * sums[u.C + c] / u.count);
}
