// Per-channel partial sums of x[rows, C] over fixed chunks of rows (channel_chunks.wgsl): partial[chunk·C + c].
// outOffset: where this call's partials start in `partial` (a batch split into pieces fills one buffer).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let k = channelChunk(i, u.rows, u.C, u.chunkRows);
  if (!k.valid) { return; }
  var s = 0.0;
  for (var r = k.r0; r < k.r1; r++) { s += x[r * u.C + k.c]; }
  partial[u.outOffset + i] = s;
}
