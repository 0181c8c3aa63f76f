// Gradient of the class-weighted cross-entropy w.r.t. the logits: dz_k = dL·(p_k·sum_j w_j·y_j - w_k·y_k)/rows.
struct P { rows: u32, K: u32, invRows: f32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> wk: array<f32>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.rows) { return; }
  let base = i * u.K;
  var sw = 0.0;
  for (var k = 0u; k < u.K; k++) { sw = fma(wk[k], y[base + k], sw); }
  let scale = dloss[0] * u.invRows;
  for (var k = 0u; k < u.K; k++) { dz[base + k] = scale * (p[base + k] * sw - wk[k] * y[base + k]); }
}
