// Gradient of nearest ×2 upsampling: each input pixel sums its 2×2 block of dy (fixed order).
struct P { n: u32, H: u32, W: u32, C: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let c = i % u.C;
  var t = i / u.C;
  let iw = t % u.W;
  t = t / u.W;
  let ih = t % u.H;
  let b = t / u.H;
  let W2 = 2u * u.W;
  let r0 = ((b * 2u * u.H + 2u * ih) * W2 + 2u * iw) * u.C + c;
  let r1 = r0 + W2 * u.C;
  dx[i] = (dy[r0] + dy[r0 + u.C]) + (dy[r1] + dy[r1 + u.C]);
}
