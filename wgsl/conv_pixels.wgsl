// The GEMM rows of a stride-1 convolution over pixels (conv2d_forward, conv2d_input_grad): a thread's 4 rows
// m..m+3 are 4 NHWC pixels, their flat index, row and column decoded once. Rows past M get row 4·H, so every
// tap of theirs falls outside the image and reads as padding.
struct RowsA { p: vec4u, row: vec4i, col: vec4i }

fn prepA(m: u32) -> RowsA {
  var r: RowsA;
  r.p = vec4u(m, m + 1u, m + 2u, m + 3u);
  r.col = vec4i(r.p % u.W);
  r.row = select(vec4i((r.p / u.W) % u.H), vec4i(i32(u.H) * 4), r.p >= vec4u(u.M));
  return r;
}
