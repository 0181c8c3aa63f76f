// y = max(x, 0), NaN kept: max() may drop a NaN, which would hide a diverged run behind a finite loss
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i < u.n) { let v = x[i]; y[i] = select(v, 0.0, v < 0.0); }
}
