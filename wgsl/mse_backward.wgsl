// Gradient of the mean squared error: dy = 2·(y − t)·dloss / n.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  dy[i] = 2.0 * (y[i] - t[i]) * dloss[0] / f32(u.n);
}
