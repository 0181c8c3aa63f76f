// Gradient of nearest ×2 upsampling: each input pixel sums its 2×2 block of dy (fixed order).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let p = nhwc(i, u.H, u.W, u.C);
  let W2 = 2u * u.W;
  let r0 = ((p.b * 2u * u.H + 2u * p.h) * W2 + 2u * p.w) * u.C + p.c;
  let r1 = r0 + W2 * u.C;
  dx[i] = (dy[r0] + dy[r0 + u.C]) + (dy[r1] + dy[r1 + u.C]);
}
