// Masked InfoNCE terms over a similarity matrix s [N, N] of cosines (divided by τ here). Term t has an anchor
// a = pairs[2t], a positive p = pairs[2t + 1] and negatives {n : mask[t·N + n] != 0} (p is never among them):
//   ℓ_t = log(exp(s_ap/τ) + Σ_n exp(s_an/τ)) − s_ap/τ.
// One invocation per term; the log-sum-exp is kept for the backward pass. Indices travel as f32 (exact < 2^24).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flatIndex(gid, nwg);
  if (t >= u.T) { return; }
  let row = u32(pairs[2u * t]) * u.N;
  let sp = s[row + u32(pairs[2u * t + 1u])] * u.invTau;
  let mrow = t * u.N;
  var m = sp;
  for (var n = 0u; n < u.N; n++) {
    if (mask[mrow + n] != 0.0) { m = max(m, s[row + n] * u.invTau); }
  }
  var sum = exp(sp - m);
  for (var n = 0u; n < u.N; n++) {
    if (mask[mrow + n] != 0.0) { sum += exp(s[row + n] * u.invTau - m); }
  }
  let l = m + log(sum);
  lse[t] = l;
  loss[t] = l - sp;
}
