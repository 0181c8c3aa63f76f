// Gradient of the soft Dice loss w.r.t. the logits, through the softmax:
// g_k = -(2/(B·K))·(y_k/S_bk - I_bk/S_bk²)·dL ; dz_k = p_k·(g_k - sum_j p_j·g_j).
// statsOffset: the first image of this call in `stats` (a batch split into pieces shares one stats buffer).

fn gk(b: u32, k: u32, yk: f32) -> f32 {
  let I = stats[((u.statsOffset + b) * u.K + k) * 2u];
  let S = stats[((u.statsOffset + b) * u.K + k) * 2u + 1u];
  return -2.0 * u.invBK * (yk / S - I / (S * S)) * dloss[0];
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.rows) { return; }
  let b = i / u.HW;
  let base = i * u.K;
  var s = 0.0;
  for (var k = 0u; k < u.K; k++) { s = fma(p[base + k], gk(b, k, y[base + k]), s); }
  for (var k = 0u; k < u.K; k++) { dz[base + k] = p[base + k] * (gk(b, k, y[base + k]) - s); }
}
