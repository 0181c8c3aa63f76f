// Max-pool 2×2 stride 2 with TF SAME padding (output ceil(H/2) × ceil(W/2); windows clipped at the edge).
// Also writes the flat input index of each window's first maximum, for the backward pass.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let o = nhwc(i, u.OH, u.OW, u.C);
  let b = o.x;
  let oh = o.y;
  let ow = o.z;
  let c = o.w;
  // the window's first pixel always exists (oh·2 < H, ow·2 < W); ties keep the first maximum
  var bi = ((b * u.H + oh * 2u) * u.W + ow * 2u) * u.C + c;
  var best = x[bi];
  for (var t2 = 1u; t2 < 4u; t2++) {
    let ih = oh * 2u + t2 / 2u;
    let iw = ow * 2u + t2 % 2u;
    if (ih < u.H && iw < u.W) {
      let j = ((b * u.H + ih) * u.W + iw) * u.C + c;
      let v = x[j];
      if (v > best) { best = v; bi = j; }
    }
  }
  y[i] = best;
  arg[i] = bi;
}
