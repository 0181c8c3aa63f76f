// Input gradient of a stride-1 conv2d as an implicit GEMM:
// dx[b, ih, iw, ci] = sum_{dy, dx, co} dout[b, ih - dy + padT, iw - dx + padL, co] · w[dy, dx, ci, co].
// M = batch·H·W input pixels, N = Cin, K = KH·KW·Cout.

// prepA, loadA4: conv_pixels.wgsl (the thread's 4 input pixels).
// A[m, k] = dout at (ih - ky + padT, iw - kx + padL), channel co, with k = (ky·KW + kx)·Cout + co.
fn aChannels() -> u32 { return u.Cout; }

fn aAt(j: u32) -> f32 { return dout[j]; }

fn tapShift(t: u32) -> vec2i { return vec2i(i32(u.padT) - i32(t / u.KW), i32(u.padL) - i32(t % u.KW)); }

struct ColsB { n: u32 }

fn prepB(n: u32) -> ColsB { return ColsB(n); }

fn wAt(tapBase: u32, co: u32, ci: u32) -> f32 {
  if (ci >= u.N) { return 0.0; }
  return w[(tapBase + ci) * u.Cout + co];
}

// B[k, ci] = w[ky, kx, ci, co] for k = (ky·KW + kx)·Cout + co.
fn loadB4(c: ColsB, k: u32) -> vec4f {
  let co = k % u.Cout;
  let tapBase = (k / u.Cout) * u.N;
  return vec4f(wAt(tapBase, co, c.n), wAt(tapBase, co, c.n + 1u), wAt(tapBase, co, c.n + 2u), wAt(tapBase, co, c.n + 3u));
}

fn st(m: u32, n: u32, v: f32) {
  if (n < u.N) { dx[m * u.N + n] = v; }
}

fn storeRow(m: u32, n: u32, chunk: u32, v: vec4f) {
  if (m >= u.M) { return; }
  st(m, n, v.x);
  st(m, n + 1u, v.y);
  st(m, n + 2u, v.z);
  st(m, n + 3u, v.w);
}
