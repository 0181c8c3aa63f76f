// Adam as in TF 1.x: m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²; p -= lr_t · m / (sqrt(v) + eps),
// with lr_t = lr·sqrt(1 - b2^t)/(1 - b1^t) computed on the host for step t.
struct P { n: u32, lrT: f32, beta1: f32, beta2: f32, eps: f32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let gi = g[i];
  let mi = u.beta1 * m[i] + (1.0 - u.beta1) * gi;
  let vi = u.beta2 * v[i] + (1.0 - u.beta2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] - u.lrT * mi / (sqrt(vi) + u.eps);
}
