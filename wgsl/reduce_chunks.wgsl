// out[i] = scale · sum_{c < chunks} partial[c·len + i], in a fixed order.
// WIDE = false: one invocation per i sums the chunks in increasing c (few chunks: split-K of a matmul).
// WIDE = true: one workgroup per i (few outputs, many chunks: per-channel statistics), wide_sum.wgsl.
// SPLIT: the total also goes to its half, lo[i] for i < len/2 and hi[i - len/2] above (batch norm's two
// parameter gradients, without copies); without SPLIT, lo and hi are bound to out, unwritten.

fn store(i: u32, v: f32) {
  if (SPLIT) {
    let half = u.len / 2u;
    if (i < half) { lo[i] = v; } else { hi[i - half] = v; }
  }
  out[i] = v;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  if (WIDE) {
    let i = wid.x + wid.y * nwg.x;
    let s = wideSum(i, u.len, u.chunks, lid);
    if (lid == 0u && i < u.len) { store(i, s * u.scale); }
    return;
  }
  let i = flatIndex(gid, nwg);
  if (i >= u.len) { return; }
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += partial[c * u.len + i]; }
  store(i, s * u.scale);
}
