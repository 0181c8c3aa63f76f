// The GEMM rows and A loader of a stride-1 convolution over pixels (conv2d_forward, conv2d_input_grad): a
// thread's 4 rows m..m+3 are 4 NHWC pixels, their flat index, row and column decoded once. Rows past M get row
// 4·H, so every tap of theirs falls outside the image and reads as padding. The op supplies aChannels() (C, the
// channels of its A input), aAt(j) (that input at flat index j) and tapShift(t) (the (rows, columns) that tap t
// shifts a pixel by).
struct RowsA { p: vec4u, row: vec4i, col: vec4i }

fn prepA(m: u32) -> RowsA {
  var r: RowsA;
  r.p = vec4u(m, m + 1u, m + 2u, m + 3u);
  r.col = vec4i(r.p % u.W);
  r.row = select(vec4i((r.p / u.W) % u.H), vec4i(i32(u.H) * 4), r.p >= vec4u(u.M));
  return r;
}

// A[m..m+3, k] for k = t·C + c: channel c of each row's pixel shifted by tapShift(t), 0 outside the image.
fn loadA4(r: RowsA, k: u32) -> vec4f {
  let C = aChannels();
  let s = tapShift(k / C);
  let off = (s.x * i32(u.W) + s.y) * i32(C) + i32(k % C);
  let ih = r.row + vec4i(s.x);
  let iw = r.col + vec4i(s.y);
  return vec4f(tap(r.p.x, ih.x, iw.x, off), tap(r.p.y, ih.y, iw.y, off), tap(r.p.z, ih.z, iw.z, off), tap(r.p.w, ih.w, iw.w, off));
}

fn tap(p: u32, ih: i32, iw: i32, off: i32) -> f32 {
  if (ih < 0 || iw < 0 || ih >= i32(u.H) || iw >= i32(u.W)) { return 0.0; }
  return aAt(u32(i32(p * aChannels()) + off));
}
