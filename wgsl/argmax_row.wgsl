// The class index of the largest of row r's K logits in z (ties to the lowest index, as the wasm argmax);
// shared by argmax.wgsl and argmax_u8.wgsl.
fn argmaxRow(r: u32) -> u32 {
  let base = r * u.K;
  var best = 0u;
  var mx = z[base];
  for (var k = 1u; k < u.K; k++) {
    let v = z[base + k];
    if (v > mx) { mx = v; best = k; }
  }
  return best;
}
