// conv2d forward as an implicit GEMM (NHWC input, HWIO weights, stride 1):
// M = batch·H·W output pixels, N = Cout, K = KH·KW·Cin; A is the im2col of x, built on the fly.
struct P {
  M: u32, N: u32, K: u32, kChunk: u32,
  H: u32, W: u32, Cin: u32, KW: u32,
  padT: u32, padL: u32, hasBias: u32, _p: u32,
}
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn xAt(m: u32, dy: u32, dx: u32, ci: u32) -> f32 {
  if (m >= u.M) { return 0.0; }
  let ow = m % u.W;
  let t = m / u.W;
  let oh = t % u.H;
  let b = t / u.H;
  let ih = i32(oh + dy) - i32(u.padT);
  let iw = i32(ow + dx) - i32(u.padL);
  if (ih < 0 || iw < 0 || ih >= i32(u.H) || iw >= i32(u.W)) { return 0.0; }
  return x[((b * u.H + u32(ih)) * u.W + u32(iw)) * u.Cin + ci];
}

fn loadA4(m: u32, k: u32) -> vec4f {
  let ci = k % u.Cin;
  let t = k / u.Cin;
  let dx = t % u.KW;
  let dy = t / u.KW;
  return vec4f(xAt(m, dy, dx, ci), xAt(m + 1u, dy, dx, ci), xAt(m + 2u, dy, dx, ci), xAt(m + 3u, dy, dx, ci));
}

fn wAt(k: u32, n: u32) -> f32 {
  if (n >= u.N) { return 0.0; }
  return w[k * u.N + n];
}

fn loadB4(k: u32, n: u32) -> vec4f {
  return vec4f(wAt(k, n), wAt(k, n + 1u), wAt(k, n + 2u), wAt(k, n + 3u));
}

fn st(m: u32, n: u32, v: f32) {
  if (n < u.N) {
    var b = 0.0;
    if (u.hasBias != 0u) { b = bias[n]; }
    y[m * u.N + n] = v + b;
  }
}

fn storeRow(m: u32, n: u32, chunk: u32, v: vec4f) {
  if (m >= u.M) { return; }
  st(m, n, v.x);
  st(m, n + 1u, v.y);
  st(m, n + 2u, v.z);
  st(m, n + 3u, v.w);
}
