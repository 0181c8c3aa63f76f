// dx[j] = dy of the window that contains j, if j was that window's maximum; else 0 (one window per input).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let p = nhwc(i, u.H, u.W, u.C);
  let o = ((p.b * u.OH + p.h / 2u) * u.OW + p.w / 2u) * u.C + p.c;
  dx[i] = select(0.0, dy[o], arg[o] == i);
}
