// Batch norm statistics in one pass over x[rows, C]: for each fixed chunk of rows and each channel, the sum of x,
// the sum of squared deviations from the chunk's own mean (its rows read a second time, from cache), and the
// chunk's row count, written as partial[chunk·3C + c], partial[chunk·3C + C + c] and partial[chunk·3C + 2C + c].
// bn_finalize.wgsl combines the chunks. The sums of x are the same additions as channel_sums.wgsl.
// outOffset: where this call's partials start in `partial` (a batch split into pieces fills one buffer).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = channelChunk(flatIndex(gid, nwg), u.rows, u.C, u.chunkRows);
  if (!k.valid) { return; }
  let c = k.c;
  let r0 = k.r0;
  let r1 = k.r1;
  var s = 0.0;
  for (var r = r0; r < r1; r++) { s += x[r * u.C + c]; }
  let n = f32(r1 - r0);
  let m = s / n;
  var q = 0.0;
  for (var r = r0; r < r1; r++) {
    let d = x[r * u.C + c] - m;
    q = fma(d, d, q);
  }
  let o = u.outOffset + k.chunk * 3u * u.C + c;
  partial[o] = s;
  partial[o + u.C] = q;
  partial[o + 2u * u.C] = n;
}
