// Local-loss regions: the R×R window at each of P positions of every feature map x [B, H, W, C], flattened in
// (dy, dx, c) order: out [B·P, R·R·C]. positions holds (row, col) of each window's top-left pixel as f32.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flatIndex(gid, nwg);
  if (o >= u.total) { return; }
  let c = o % u.C;
  let cell = (o / u.C) % (u.R * u.R);
  let bp = o / (u.C * u.R * u.R);
  let p = bp % u.P;
  let b = bp / u.P;
  let y = u32(positions[2u * p]) + cell / u.R;
  let xx = u32(positions[2u * p + 1u]) + cell % u.R;
  out[o] = x[((b * u.H + y) * u.W + xx) * u.C + c];
}
