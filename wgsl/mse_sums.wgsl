// Mean squared error, reduction: partial[chunk] = Σ (y − t)² over a fixed chunk of the n values.
struct P { n: u32, chunk: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x + gid.y * nwg.x * 256u;
  if (c * u.chunk >= u.n) { return; }
  let r1 = min(u.n, (c + 1u) * u.chunk);
  var s = 0.0;
  for (var i = c * u.chunk; i < r1; i++) {
    let d = y[i] - t[i];
    s = fma(d, d, s);
  }
  partial[c] = s;
}
