// Class-weighted cross-entropy, reduction: partial[chunk] = sum over a fixed chunk of pixels of
// -sum_k w_k·y_k·log softmax(z)_k (log-sum-exp form).
// outOffset: where this call's partials start in `partial` (a batch split into pieces fills one buffer).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let chunks = (u.rows + u.chunkRows - 1u) / u.chunkRows;
  if (i >= chunks) { return; }
  let r1 = min(u.rows, (i + 1u) * u.chunkRows);
  var acc = 0.0;
  for (var r = i * u.chunkRows; r < r1; r++) {
    let base = r * u.K;
    var mx = z[base];
    for (var k = 1u; k < u.K; k++) { mx = max(mx, z[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < u.K; k++) { s += exp(z[base + k] - mx); }
    let lse = mx + log(s);
    for (var k = 0u; k < u.K; k++) { acc -= wk[k] * y[base + k] * (z[base + k] - lse); }
  }
  partial[u.outOffset + i] = acc;
}
