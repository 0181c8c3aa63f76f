// Input gradient of a stride-1 conv2d as an implicit GEMM:
// dx[b, ih, iw, ci] = sum_{dy, dx, co} dout[b, ih - dy + padT, iw - dx + padL, co] · w[dy, dx, ci, co].
// M = batch·H·W input pixels, N = Cin, K = KH·KW·Cout.
struct P {
  M: u32, N: u32, K: u32, kChunk: u32,
  H: u32, W: u32, Cout: u32, KW: u32,
  padT: u32, padL: u32, _p0: u32, _p1: u32,
}
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn gAt(m: u32, ky: u32, kx: u32, co: u32) -> f32 {
  if (m >= u.M) { return 0.0; }
  let iw = m % u.W;
  let t = m / u.W;
  let ih = t % u.H;
  let b = t / u.H;
  let oh = i32(ih + u.padT) - i32(ky);
  let ow = i32(iw + u.padL) - i32(kx);
  if (oh < 0 || ow < 0 || oh >= i32(u.H) || ow >= i32(u.W)) { return 0.0; }
  return dout[((b * u.H + u32(oh)) * u.W + u32(ow)) * u.Cout + co];
}

fn loadA4(m: u32, k: u32) -> vec4f {
  let co = k % u.Cout;
  let t = k / u.Cout;
  let kx = t % u.KW;
  let ky = t / u.KW;
  return vec4f(gAt(m, ky, kx, co), gAt(m + 1u, ky, kx, co), gAt(m + 2u, ky, kx, co), gAt(m + 3u, ky, kx, co));
}

fn wAt(k: u32, ci: u32) -> f32 {
  if (ci >= u.N) { return 0.0; }
  // k = (ky·KW + kx)·Cout + co ; w index = ((ky·KW + kx)·Cin + ci)·Cout + co
  let co = k % u.Cout;
  let tap = k / u.Cout;
  return w[(tap * u.N + ci) * u.Cout + co];
}

fn loadB4(k: u32, n: u32) -> vec4f {
  return vec4f(wAt(k, n), wAt(k, n + 1u), wAt(k, n + 2u), wAt(k, n + 3u));
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
