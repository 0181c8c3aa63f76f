// Soft Dice loss, background included: D_bk = 2·I_bk / (P_bk + Y_bk + eps); loss = 1 - mean_{b,k} D_bk.
// One invocation does the (small) final sums in a fixed order and keeps I_bk and S_bk for the backward pass.
@compute @workgroup_size(1)
fn main() {
  var acc = 0.0;
  for (var b = 0u; b < u.B; b++) {
    for (var k = 0u; k < u.K; k++) {
      var si = 0.0;
      var sp = 0.0;
      var sy = 0.0;
      for (var c = 0u; c < u.chunks; c++) {
        let j = ((b * u.chunks + c) * u.K + k) * 3u;
        si += partial[j];
        sp += partial[j + 1u];
        sy += partial[j + 2u];
      }
      let s = sp + sy + u.eps;
      stats[(b * u.K + k) * 2u] = si;
      stats[(b * u.K + k) * 2u + 1u] = s;
      acc += 2.0 * si / s;
    }
  }
  loss[0] = 1.0 - acc / f32(u.B * u.K);
}
