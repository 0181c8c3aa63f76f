// Gradient of region_gather.wgsl: each element of dx [B, H, W, C] adds the gradients of every window covering
// it, in increasing window order (windows may overlap on small maps), so the sum has a fixed order.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flatIndex(gid, nwg);
  if (e >= u.total) { return; }
  let q = nhwc(e, u.H, u.W, u.C);
  var g = 0.0;
  for (var p = 0u; p < u.P; p++) {
    let r0 = u32(positions[2u * p]);
    let c0 = u32(positions[2u * p + 1u]);
    if (q.h >= r0 && q.h < r0 + u.R && q.w >= c0 && q.w < c0 + u.R) {
      g += dout[(((q.b * u.P + p) * u.R + (q.h - r0)) * u.R + (q.w - c0)) * u.C + q.c];
    }
  }
  dx[e] = g;
}
