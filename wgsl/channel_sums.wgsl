// Per-channel partial sums of x[rows, C] over fixed chunks of rows: partial[chunk·C + c].
// The chunk size is set by the host independently of any tiling, so the order of additions is fixed.
// outOffset: where this call's partials start in `partial` (a batch split into pieces fills one buffer).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let chunks = (u.rows + u.chunkRows - 1u) / u.chunkRows;
  if (i >= chunks * u.C) { return; }
  let c = i % u.C;
  let chunk = i / u.C;
  let r1 = min(u.rows, (chunk + 1u) * u.chunkRows);
  var s = 0.0;
  for (var r = chunk * u.chunkRows; r < r1; r++) { s += x[r * u.C + c]; }
  partial[u.outOffset + i] = s;
}
