// Batch norm, second pass: per-channel partial sums of (x - mean)^2 over fixed chunks of rows.
// outOffset: where this call's partials start in `partial` (a batch split into pieces fills one buffer).
struct P { rows: u32, C: u32, chunkRows: u32, outOffset: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let chunks = (u.rows + u.chunkRows - 1u) / u.chunkRows;
  if (i >= chunks * u.C) { return; }
  let c = i % u.C;
  let chunk = i / u.C;
  let mu = mean[c];
  let r1 = min(u.rows, (chunk + 1u) * u.chunkRows);
  var s = 0.0;
  for (var r = chunk * u.chunkRows; r < r1; r++) {
    let d = x[r * u.C + c] - mu;
    s = fma(d, d, s);
  }
  partial[u.outOffset + i] = s;
}
