// Mean squared error, reduction: partial[chunk] = Σ (y − t)² over a fixed chunk of the n values.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = flatIndex(gid, nwg);
  if (c * u.chunk >= u.n) { return; }
  let r1 = min(u.n, (c + 1u) * u.chunk);
  var s = 0.0;
  for (var i = c * u.chunk; i < r1; i++) {
    let d = y[i] - t[i];
    s = fma(d, d, s);
  }
  partial[c] = s;
}
