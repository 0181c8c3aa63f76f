// acc[i] += g[i]: gradients of a tensor used more than once (skip connections).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < u.n) { acc[i] = acc[i] + g[i]; }
}
