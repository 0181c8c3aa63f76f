// Cross-entropy loss = (sum of chunk partials, in order) / number of pixels.
@compute @workgroup_size(1)
fn main() {
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += partial[c]; }
  loss[0] = s / u.rows;
}
