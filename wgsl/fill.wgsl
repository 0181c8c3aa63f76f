// out[i] = value (tests fill outputs with NaN before a kernel runs).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < u.n) { out[i] = u.value; }
}
