// Weight gradient of a stride-1 conv2d as a split-K GEMM:
// dw[(ky, kx, ci), co] = sum over pixels p of x[p shifted by (ky, kx)][ci] · dout[p][co].
// M = KH·KW·Cin, N = Cout, K = batch·H·W. Workgroup z handles pixels [z·kChunk, (z+1)·kChunk) and
// writes its partial sum to out[z·M·N + ...]; with one chunk that is the gradient itself, otherwise the
// host sums the chunks in order (reduce_chunks). Fixed order: the same inputs give the same bits.
struct P {
  M: u32, N: u32, K: u32, kChunk: u32,
  H: u32, W: u32, Cin: u32, KW: u32,
  padT: u32, padL: u32, _p0: u32, _p1: u32,
}
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn xAt(b: u32, oh: u32, ow: u32, m: u32) -> f32 {
  if (m >= u.M) { return 0.0; }
  let ci = m % u.Cin;
  let tap = m / u.Cin;
  let kx = tap % u.KW;
  let ky = tap / u.KW;
  let ih = i32(oh + ky) - i32(u.padT);
  let iw = i32(ow + kx) - i32(u.padL);
  if (ih < 0 || iw < 0 || ih >= i32(u.H) || iw >= i32(u.W)) { return 0.0; }
  return x[((b * u.H + u32(ih)) * u.W + u32(iw)) * u.Cin + ci];
}

fn loadA4(m: u32, k: u32) -> vec4f {
  let ow = k % u.W;
  let t = k / u.W;
  let oh = t % u.H;
  let b = t / u.H;
  return vec4f(xAt(b, oh, ow, m), xAt(b, oh, ow, m + 1u), xAt(b, oh, ow, m + 2u), xAt(b, oh, ow, m + 3u));
}

fn gAt(k: u32, n: u32) -> f32 {
  if (n >= u.N) { return 0.0; }
  return dout[k * u.N + n];
}

fn loadB4(k: u32, n: u32) -> vec4f {
  return vec4f(gAt(k, n), gAt(k, n + 1u), gAt(k, n + 2u), gAt(k, n + 3u));
}

fn st(base: u32, m: u32, n: u32, v: f32) {
  if (n < u.N) { out[base + m * u.N + n] = v; }
}

fn storeRow(m: u32, n: u32, chunk: u32, v: vec4f) {
  if (m >= u.M) { return; }
  let base = chunk * u.M * u.N;
  st(base, m, n, v.x);
  st(base, m, n + 1u, v.y);
  st(base, m, n + 2u, v.z);
  st(base, m, n + 3u, v.w);
}
