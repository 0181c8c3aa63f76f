// conv2d forward, direct form for thin layers (few input or output channels, where a GEMM tile is mostly
// padding): one invocation per output pixel and group of 4 output channels, looping over taps and input
// channels with a vec4 of weights. Stride 1, NHWC input, HWIO weights; the same SAME padding as the GEMM.
struct P { n: u32, H: u32, W: u32, Cin: u32, Cout: u32, KH: u32, KW: u32, padT: u32, padL: u32, hasBias: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn w4(j: u32, co: u32) -> vec4f {
  // the 4 output channels co..co+3 of weight row j (zero past Cout)
  let b = j * u.Cout + co;
  if (co + 3u < u.Cout) { return vec4f(w[b], w[b + 1u], w[b + 2u], w[b + 3u]); }
  return vec4f(w[b], select(0.0, w[b + 1u], co + 1u < u.Cout), select(0.0, w[b + 2u], co + 2u < u.Cout), 0.0);
}

fn put(p: u32, co: u32, v: f32) {
  if (co < u.Cout) {
    var b = 0.0;
    if (u.hasBias != 0u) { b = bias[co]; }
    y[p * u.Cout + co] = v + b;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let groups = (u.Cout + 3u) / 4u;
  let co = (i % groups) * 4u;
  let p = i / groups;
  let ow = p % u.W;
  let oh = (p / u.W) % u.H;
  let b = p / (u.W * u.H);
  var acc = vec4f(0.0);
  for (var ky = 0u; ky < u.KH; ky++) {
    let ih = i32(oh + ky) - i32(u.padT);
    if (ih < 0 || ih >= i32(u.H)) { continue; }
    for (var kx = 0u; kx < u.KW; kx++) {
      let iw = i32(ow + kx) - i32(u.padL);
      if (iw < 0 || iw >= i32(u.W)) { continue; }
      let xb = ((b * u.H + u32(ih)) * u.W + u32(iw)) * u.Cin;
      let wb = (ky * u.KW + kx) * u.Cin;
      for (var ci = 0u; ci < u.Cin; ci++) {
        acc = fma(vec4f(x[xb + ci]), w4(wb + ci, co), acc);
      }
    }
  }
  put(p, co, acc.x);
  put(p, co + 1u, acc.y);
  put(p, co + 2u, acc.z);
  put(p, co + 3u, acc.w);
}
