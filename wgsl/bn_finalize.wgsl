// Batch norm statistics from bn_stats.wgsl's chunk partials [chunks, 3C] (sum, squared deviations from the
// chunk mean, rows). mean = Σ sums · scale (scale = 1/count, the additions of reduce_chunks.wgsl); the squared
// deviations from that mean are, per chunk, its own plus rows·(chunk mean − mean)² (exact in real arithmetic).
// The biased batch variance (as TF) gives invstd = 1/sqrt(var + eps); the moving averages follow TF:
// moving = decay·moving + (1 - decay)·batch, with the unbiased variance for moving_var.
// WIDE = false: one invocation per channel adds the chunks in increasing order; WIDE = true: one workgroup per
// channel, wide_sum.wgsl's two fixed orders.

// Chunk k's squared deviations from the batch mean mu, for channel i.
fn deviations(k: u32, i: u32, mu: f32) -> f32 {
  let o = k * 3u * u.C + i;
  let n = partial[o + 2u * u.C];
  let d = partial[o] / n - mu;
  return partial[o + u.C] + n * d * d;
}

fn finish(i: u32, mu: f32, q: f32) {
  mean[i] = mu;
  invstd[i] = 1.0 / sqrt(q / u.count + u.eps);
  if (u.updateRunning != 0u) {
    let unbiased = q / max(u.count - 1.0, 1.0);
    runMean[i] = u.decay * runMean[i] + (1.0 - u.decay) * mu;
    runVar[i] = u.decay * runVar[i] + (1.0 - u.decay) * unbiased;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  if (WIDE) {
    let i = wid.x + wid.y * nwg.x;
    let mu = wideSum(i, 3u * u.C, u.chunks, lid) * u.scale;
    var q = 0.0;
    if (i < u.C) {
      for (var k = lid; k < u.chunks; k += 256u) { q += deviations(k, i, mu); }
    }
    q = wideTree(q, lid);
    if (lid == 0u && i < u.C) { finish(i, mu, q); }
    return;
  }
  let i = flatIndex(gid, nwg);
  if (i >= u.C) { return; }
  var s = 0.0;
  for (var k = 0u; k < u.chunks; k++) { s += partial[k * 3u * u.C + i]; }
  let mu = s * u.scale;
  var q = 0.0;
  for (var k = 0u; k < u.chunks; k++) { q += deviations(k, i, mu); }
  finish(i, mu, q);
}
