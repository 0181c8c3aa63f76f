// y = max(x, 0), NaN kept: max() may drop a NaN, which would hide a diverged run behind a finite loss
struct P { n: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < u.n) { let v = x[i]; y[i] = select(v, 0.0, v < 0.0); }
}
