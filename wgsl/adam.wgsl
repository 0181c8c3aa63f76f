// One Adam step on one parameter tensor (adam_update.wgsl); adam4.wgsl takes four per dispatch.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let r = adamUpdate(g[i], p[i], m[i], v[i]);
  p[i] = r.x;
  m[i] = r.y;
  v[i] = r.z;
}
