// Cross-entropy loss = (sum of chunk partials, in order) / number of pixels.
struct P { chunks: u32, rows: f32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@compute @workgroup_size(1)
fn main() {
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += partial[c]; }
  loss[0] = s / u.rows;
}
