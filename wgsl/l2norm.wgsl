// Row-wise L2 normalisation as TF: y = x / sqrt(max(sum x², 1e-12)). Keeps 1/norm and sum x² per row.
struct P { rows: u32, D: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> norms: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.rows) { return; }
  let base = i * u.D;
  var s = 0.0;
  for (var d = 0u; d < u.D; d++) { s = fma(x[base + d], x[base + d], s); }
  let inv = 1.0 / sqrt(max(s, 1e-12));
  for (var d = 0u; d < u.D; d++) { y[base + d] = x[base + d] * inv; }
  norms[i * 2u] = inv;
  norms[i * 2u + 1u] = s;
}
