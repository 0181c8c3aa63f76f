// dx = dy where the ReLU output is positive, else 0.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < u.n) { dx[i] = select(0.0, dy[i], y[i] > 0.0); }
}
