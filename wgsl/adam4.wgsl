// One Adam step on four parameter tensors in one dispatch (16 storage bindings; the host uses it where the
// device allows that many): invocation i updates element i of the concatenation of the four, so a train step
// needs a quarter of the dispatches. An unused set has n = 0 and spare buffers bound.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  var i = gid.x + gid.y * nwg.x * 256u;
  if (i < u.n0) {
    let r = adamUpdate(g0[i], p0[i], m0[i], v0[i]);
    p0[i] = r.x; m0[i] = r.y; v0[i] = r.z;
    return;
  }
  i -= u.n0;
  if (i < u.n1) {
    let r = adamUpdate(g1[i], p1[i], m1[i], v1[i]);
    p1[i] = r.x; m1[i] = r.y; v1[i] = r.z;
    return;
  }
  i -= u.n1;
  if (i < u.n2) {
    let r = adamUpdate(g2[i], p2[i], m2[i], v2[i]);
    p2[i] = r.x; m2[i] = r.y; v2[i] = r.z;
    return;
  }
  i -= u.n2;
  if (i < u.n3) {
    let r = adamUpdate(g3[i], p3[i], m3[i], v3[i]);
    p3[i] = r.x; m3[i] = r.y; v3[i] = r.z;
  }
}
