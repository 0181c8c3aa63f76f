// Gradient of region_gather.wgsl: each element of dx [B, H, W, C] adds the gradients of every window covering
// it, in increasing window order (windows may overlap on small maps), so the sum has a fixed order.
struct P { total: u32, P: u32, R: u32, H: u32, W: u32, C: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> positions: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * 256u;
  if (e >= u.total) { return; }
  let c = e % u.C;
  let xx = (e / u.C) % u.W;
  let y = (e / (u.C * u.W)) % u.H;
  let b = e / (u.C * u.W * u.H);
  var g = 0.0;
  for (var p = 0u; p < u.P; p++) {
    let r0 = u32(positions[2u * p]);
    let c0 = u32(positions[2u * p + 1u]);
    if (y >= r0 && y < r0 + u.R && xx >= c0 && xx < c0 + u.R) {
      g += dout[(((b * u.P + p) * u.R + (y - r0)) * u.R + (xx - c0)) * u.C + c];
    }
  }
  dx[e] = g;
}
