// dx = inv·(dy - y·(y·dy)); where the norm was clamped by the epsilon, dx = inv·dy.
struct P { rows: u32, D: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> norms: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.rows) { return; }
  let base = i * u.D;
  let inv = norms[i * 2u];
  var dot = 0.0;
  if (norms[i * 2u + 1u] > 1e-12) {
    for (var d = 0u; d < u.D; d++) { dot = fma(y[base + d], dy[base + d], dot); }
  }
  for (var d = 0u; d < u.D; d++) { dx[base + d] = inv * (dy[base + d] - y[base + d] * dot); }
}
