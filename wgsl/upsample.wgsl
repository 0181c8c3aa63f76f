// Nearest-neighbour upsampling ×2: y[b, oh, ow, c] = x[b, oh/2, ow/2, c]. H, W are the input's.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let o = nhwc(i, 2u * u.H, 2u * u.W, u.C);
  y[i] = x[((o.b * u.H + o.h / 2u) * u.W + o.w / 2u) * u.C + o.c];
}
