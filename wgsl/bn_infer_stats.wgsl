// Batch norm at inference: mean and invstd from the moving averages.
struct P { C: u32, eps: f32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> runMean: array<f32>;
@group(0) @binding(2) var<storage, read> runVar: array<f32>;
@group(0) @binding(3) var<storage, read_write> mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> invstd: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.C) { return; }
  mean[i] = runMean[i];
  invstd[i] = 1.0 / sqrt(runVar[i] + u.eps);
}
