// Nearest-neighbour upsampling ×2: y[b, oh, ow, c] = x[b, oh/2, ow/2, c]. H, W are the input's.
struct P { n: u32, H: u32, W: u32, C: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let c = i % u.C;
  var t = i / u.C;
  let ow = t % (2u * u.W);
  t = t / (2u * u.W);
  let oh = t % (2u * u.H);
  let b = t / (2u * u.H);
  y[i] = x[((b * u.H + oh / 2u) * u.W + ow / 2u) * u.C + c];
}
