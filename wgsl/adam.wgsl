// One Adam step on one parameter tensor (adam_update.wgsl); adam4.wgsl takes four per dispatch.
struct P { a: AdamScalars, n: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let r = adamUpdate(u.a, g[i], p[i], m[i], v[i]);
  p[i] = r.x;
  m[i] = r.y;
  v[i] = r.z;
}
