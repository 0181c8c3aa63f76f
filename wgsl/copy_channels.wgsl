// Strided channel copy: dst[p·dstC + dstOff + c] = src[p·srcC + srcOff + c] for c < C.
// Concat writes each input into its channel slice; the backward pass reads the slices out again.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let c = i % u.C;
  let p = i / u.C;
  dst[p * u.dstC + u.dstOff + c] = src[p * u.srcC + u.srcOff + c];
}
