// Max-pool 2×2 stride 2 with TF SAME padding (output ceil(H/2) × ceil(W/2); windows clipped at the edge).
// Also writes the flat input index of each window's first maximum, for the backward pass.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let o = nhwc(i, u.OH, u.OW, u.C);
  // the window's first pixel always exists (oh·2 < H, ow·2 < W); ties keep the first maximum
  var bi = ((o.b * u.H + o.h * 2u) * u.W + o.w * 2u) * u.C + o.c;
  var best = x[bi];
  for (var t2 = 1u; t2 < 4u; t2++) {
    let ih = o.h * 2u + t2 / 2u;
    let iw = o.w * 2u + t2 % 2u;
    if (ih < u.H && iw < u.W) {
      let j = ((o.b * u.H + ih) * u.W + iw) * u.C + o.c;
      let v = x[j];
      if (v > best) { best = v; bi = j; }
    }
  }
  y[i] = best;
  arg[i] = bi;
}
