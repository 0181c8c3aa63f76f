// Soft Dice, reduction: for image b, class k and a fixed chunk of its pixels, the partial sums of
// p·y, p and y, written to partial[((b·chunks + chunk)·K + k)·3 + {0, 1, 2}].
// outOffset: where this call's partials start in `partial` (a batch split into pieces fills one buffer).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  let chunks = (u.HW + u.chunkRows - 1u) / u.chunkRows;
  if (i >= u.B * chunks * u.K) { return; }
  let k = i % u.K;
  let t = i / u.K;
  let chunk = t % chunks;
  let b = t / chunks;
  let r1 = min(u.HW, (chunk + 1u) * u.chunkRows);
  var si = 0.0;
  var sp = 0.0;
  var sy = 0.0;
  for (var r = chunk * u.chunkRows; r < r1; r++) {
    let j = (b * u.HW + r) * u.K + k;
    si = fma(p[j], y[j], si);
    sp += p[j];
    sy += y[j];
  }
  partial[u.outOffset + i * 3u] = si;
  partial[u.outOffset + i * 3u + 1u] = sp;
  partial[u.outOffset + i * 3u + 2u] = sy;
}
