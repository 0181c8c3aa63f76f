// Gradient of scale · Σ_t ℓ_t (contrastive_loss.wgsl) with respect to the similarity matrix s [N, N]:
//   ds_ij = dloss · scale / τ · Σ_{t: a_t = i} ( [j = p_t or mask_tj] · exp(s_ij/τ − lse_t) − [j = p_t] ).
// One invocation per entry (i, j) walks the terms anchored at row i, listed by the host in increasing t
// (rows[0..N] are offsets into the term ids rows[N+1..]), so every sum has a fixed order.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flatIndex(gid, nwg);
  if (e >= u.N * u.N) { return; }
  let i = e / u.N;
  let j = e % u.N;
  let sij = s[e] * u.invTau;
  let k0 = u32(rows[i]);
  let k1 = u32(rows[i + 1u]);
  var g = 0.0;
  for (var k = k0; k < k1; k++) {
    let t = u32(rows[u.N + 1u + k]);
    let isPos = u32(pairs[2u * t + 1u]) == j;
    if (isPos || mask[t * u.N + j] != 0.0) { g += exp(sij - lse[t]); }
    if (isPos) { g -= 1.0; }
  }
  ds[e] = g * dloss[0] * u.scale * u.invTau;
}
