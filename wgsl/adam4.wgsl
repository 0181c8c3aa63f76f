// One Adam step on four parameter tensors in one dispatch (16 storage bindings; the host uses it where the
// device allows that many): invocation i updates element i of the concatenation of the four, so a train step
// needs a quarter of the dispatches. An unused set has n = 0 and spare buffers bound.
struct P { a: AdamScalars, n0: u32, n1: u32, n2: u32, n3: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> g0: array<f32>;
@group(0) @binding(2) var<storage, read_write> p0: array<f32>;
@group(0) @binding(3) var<storage, read_write> m0: array<f32>;
@group(0) @binding(4) var<storage, read_write> v0: array<f32>;
@group(0) @binding(5) var<storage, read> g1: array<f32>;
@group(0) @binding(6) var<storage, read_write> p1: array<f32>;
@group(0) @binding(7) var<storage, read_write> m1: array<f32>;
@group(0) @binding(8) var<storage, read_write> v1: array<f32>;
@group(0) @binding(9) var<storage, read> g2: array<f32>;
@group(0) @binding(10) var<storage, read_write> p2: array<f32>;
@group(0) @binding(11) var<storage, read_write> m2: array<f32>;
@group(0) @binding(12) var<storage, read_write> v2: array<f32>;
@group(0) @binding(13) var<storage, read> g3: array<f32>;
@group(0) @binding(14) var<storage, read_write> p3: array<f32>;
@group(0) @binding(15) var<storage, read_write> m3: array<f32>;
@group(0) @binding(16) var<storage, read_write> v3: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var i = gid.x + gid.y * nwg.x * 256u;
  if (i < u.n0) {
    let r = adamUpdate(u.a, g0[i], p0[i], m0[i], v0[i]);
    p0[i] = r.x; m0[i] = r.y; v0[i] = r.z;
    return;
  }
  i -= u.n0;
  if (i < u.n1) {
    let r = adamUpdate(u.a, g1[i], p1[i], m1[i], v1[i]);
    p1[i] = r.x; m1[i] = r.y; v1[i] = r.z;
    return;
  }
  i -= u.n1;
  if (i < u.n2) {
    let r = adamUpdate(u.a, g2[i], p2[i], m2[i], v2[i]);
    p2[i] = r.x; m2[i] = r.y; v2[i] = r.z;
    return;
  }
  i -= u.n2;
  if (i < u.n3) {
    let r = adamUpdate(u.a, g3[i], p3[i], m3[i], v3[i]);
    p3[i] = r.x; m3[i] = r.y; v3[i] = r.z;
  }
}
