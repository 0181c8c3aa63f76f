// conv2d forward as an implicit GEMM (NHWC input, HWIO weights, stride 1):
// M = batch·H·W output pixels, N = Cout, K = KH·KW·Cin; A is the im2col of x, built on the fly.
// Split-K (the host's choice, by shape): workgroup z writes the partial sum of its K-chunk to y[z·M·N + ...],
// the bias in chunk 0 only, and the host sums the chunks in order (reduce_chunks).
// BNRELU (a specialisation: inference, one chunk): the output goes through batch norm with the moving statistics
// and ReLU (bn_infer.wgsl) before it is stored, so a conv block at inference is one pass; without it rm..beta are
// unread and the epilogue's code is not compiled (it is inlined at each of a thread's 64 stores).

// prepA, loadA4: conv_pixels.wgsl (the thread's 4 output pixels, each also the same pixel of x).
// A[m, k] = x at (oh + ky - padT, ow + kx - padL), channel ci, with k = (ky·KW + kx)·Cin + ci.
fn aChannels() -> u32 { return u.Cin; }

fn aAt(j: u32) -> f32 { return x[j]; }

fn tapShift(t: u32) -> vec2i { return vec2i(i32(t / u.KW) - i32(u.padT), i32(t % u.KW) - i32(u.padL)); }

// B[k, n] = w[k, n] (HWIO flattened); prepB, loadB4: gemm_cols.wgsl
fn bAt(k: u32, n: u32) -> f32 {
  if (n >= u.N) { return 0.0; }
  return w[k * u.N + n];
}

fn st(m: u32, n: u32, chunk: u32, v: f32) {
  if (n < u.N) {
    var b = 0.0;
    if (u.hasBias != 0u && chunk == 0u) { b = bias[n]; }
    var o = v + b;
    if (BNRELU) {
      o = bnInfer(o, rm[n], rv[n], gamma[n], beta[n], u.eps);
      o = select(o, 0.0, o < 0.0);
    }
    y[chunk * u.M * u.N + m * u.N + n] = o;
  }
}

fn storeRow(m: u32, n: u32, chunk: u32, v: vec4f) {
  if (m >= u.M) { return; }
  st(m, n, chunk, v.x);
  st(m, n + 1u, chunk, v.y);
  st(m, n + 2u, chunk, v.z);
  st(m, n + 3u, chunk, v.w);
}
