// Batch norm backward, reduction: per-channel partial sums of dy and of dy·xhat over fixed row chunks,
// written as partial[chunk·2C + c] and partial[chunk·2C + C + c].
// outOffset: where this call's partials start in `partial` (a batch split into pieces fills one buffer).
// RELU: dy is the gradient after a fused ReLU whose output is z; it counts only where z > 0 (without RELU, z is
// not read).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = channelChunk(flatIndex(gid, nwg), u.rows, u.C, u.chunkRows);
  if (!k.valid) { return; }
  let c = k.c;
  let mu = mean[c];
  let is = invstd[c];
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var r = k.r0; r < k.r1; r++) {
    let g = select(0.0, dy[r * u.C + c], !RELU || z[r * u.C + c] > 0.0);
    sdy += g;
    sdyx = fma(g, (x[r * u.C + c] - mu) * is, sdyx);
  }
  partial[u.outOffset + k.chunk * 2u * u.C + c] = sdy;
  partial[u.outOffset + k.chunk * 2u * u.C + u.C + c] = sdyx;
}
