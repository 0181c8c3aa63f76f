// Gradient of the soft Dice loss w.r.t. the logits, through the softmax:
// g_k = -(2/(B·K))·(y_k/S_bk - I_bk/S_bk²)·dL ; dz_k = p_k·(g_k - sum_j p_j·g_j).
// statsOffset: the first image of this call in `stats` (a batch split into pieces shares one stats buffer).
struct P { rows: u32, HW: u32, K: u32, invBK: f32, statsOffset: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> dloss: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz: array<f32>;

fn gk(b: u32, k: u32, yk: f32) -> f32 {
  let I = stats[((u.statsOffset + b) * u.K + k) * 2u];
  let S = stats[((u.statsOffset + b) * u.K + k) * 2u + 1u];
  return -2.0 * u.invBK * (yk / S - I / (S * S)) * dloss[0];
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.rows) { return; }
  let b = i / u.HW;
  let base = i * u.K;
  var s = 0.0;
  for (var k = 0u; k < u.K; k++) { s = fma(p[base + k], gk(b, k, y[base + k]), s); }
  for (var k = 0u; k < u.K; k++) { dz[base + k] = p[base + k] * (gk(b, k, y[base + k]) - s); }
}
