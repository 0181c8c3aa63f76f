// Max-pool 2×2 stride 2 with TF SAME padding (output ceil(H/2) × ceil(W/2); windows clipped at the edge).
// Also writes the flat input index of each window's first maximum, for the backward pass.
struct P { n: u32, H: u32, W: u32, C: u32, OH: u32, OW: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let c = i % u.C;
  var t = i / u.C;
  let ow = t % u.OW;
  t = t / u.OW;
  let oh = t % u.OH;
  let b = t / u.OH;
  // the window's first pixel always exists (oh·2 < H, ow·2 < W); ties keep the first maximum
  var bi = ((b * u.H + oh * 2u) * u.W + ow * 2u) * u.C + c;
  var best = x[bi];
  for (var t2 = 1u; t2 < 4u; t2++) {
    let ih = oh * 2u + t2 / 2u;
    let iw = ow * 2u + t2 % 2u;
    if (ih < u.H && iw < u.W) {
      let j = ((b * u.H + ih) * u.W + iw) * u.C + c;
      let v = x[j];
      if (v > best) { best = v; bi = j; }
    }
  }
  y[i] = best;
  arg[i] = bi;
}
