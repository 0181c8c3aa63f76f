// Batch norm statistics: biased batch variance (as TF) gives invstd = 1/sqrt(var + eps); the moving
// averages follow TF: moving = decay·moving + (1 - decay)·batch, with the unbiased variance for moving_var.
// The sum of squared deviations over the chunk partials has the two fixed orders of reduce_chunks.wgsl
// (WIDE: one workgroup per channel, wide_sum.wgsl).
struct P { C: u32, chunks: u32, count: f32, eps: f32, decay: f32, updateRunning: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> runMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> runVar: array<f32>;

fn finish(i: u32, s: f32) {
  let v = s / u.count;
  invstd[i] = 1.0 / sqrt(v + u.eps);
  if (u.updateRunning != 0u) {
    let unbiased = s / max(u.count - 1.0, 1.0);
    runMean[i] = u.decay * runMean[i] + (1.0 - u.decay) * mean[i];
    runVar[i] = u.decay * runVar[i] + (1.0 - u.decay) * unbiased;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  if (WIDE) {
    let i = wid.x + wid.y * nwg.x;
    let s = wideSum(i, u.C, u.chunks, lid);
    if (lid == 0u && i < u.C) { finish(i, s); }
    return;
  }
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.C) { return; }
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += partial[c * u.C + i]; }
  finish(i, s);
}
