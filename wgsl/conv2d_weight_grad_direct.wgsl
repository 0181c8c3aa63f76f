// Weight gradient of a stride-1 conv2d, direct form for CPU adapters, where tiles in workgroup memory cost more
// than they save (ops/webgpu.ts defaultConvChoice; tests run it on GPUs too): one invocation per (pixel
// chunk, tap, group of CG input channels (CG = 8, 4, or 1 for the 1-channel input layer: a specialisation),
// group of 4 output channels) walks the chunk's pixels in order, accumulating the outer products x·dout.
// Same chunking as conv2d_weight_grad.wgsl: partial[chunk·M·N + m·N + n], summed in order by the host.

fn xAt(j: u32, ci: u32) -> f32 {
  return select(0.0, x[j + ci], ci < u.Cin);
}

fn gAt(d: u32, co: u32) -> f32 {
  return select(0.0, dout[d + co], co < u.Cout);
}

fn put(base: u32, ci: u32, co: u32, v: vec4f) {
  if (ci >= u.Cin) { return; }
  let o = base + ci * u.Cout + co;
  out[o] = v.x;
  if (co + 1u < u.Cout) { out[o + 1u] = v.y; }
  if (co + 2u < u.Cout) { out[o + 2u] = v.z; }
  if (co + 3u < u.Cout) { out[o + 3u] = v.w; }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let chunks = (u.rows + u.kChunk - 1u) / u.kChunk;
  if (i >= u.groups * chunks) { return; }
  let cg = (u.Cin + CG - 1u) / CG;
  let og = (u.Cout + 3u) / 4u;
  let g = i % u.groups;
  let chunk = i / u.groups;
  let co = (g % og) * 4u;
  let ci = ((g / og) % cg) * CG;
  let tap = g / (og * cg);
  let sy = i32(tap / u.KW) - i32(u.padT);
  let sx = i32(tap % u.KW) - i32(u.padL);
  let p0 = chunk * u.kChunk;
  let p1 = min(u.rows, p0 + u.kChunk);
  var ow = p0 % u.W;
  var oh = (p0 / u.W) % u.H;
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  var a4 = vec4f(0.0);
  var a5 = vec4f(0.0);
  var a6 = vec4f(0.0);
  var a7 = vec4f(0.0);
  for (var p = p0; p < p1; p++) {
    let ih = i32(oh) + sy;
    let iw = i32(ow) + sx;
    if (ih >= 0 && iw >= 0 && ih < i32(u.H) && iw < i32(u.W)) {
      let j = u32(i32(p * u.Cin) + (sy * i32(u.W) + sx) * i32(u.Cin)) + ci;
      let d = p * u.Cout;
      let g4 = vec4f(gAt(d, co), gAt(d, co + 1u), gAt(d, co + 2u), gAt(d, co + 3u));
      a0 = fma(vec4f(xAt(j, 0u)), g4, a0);
      if (CG >= 4u) {
        a1 = fma(vec4f(xAt(j, 1u)), g4, a1);
        a2 = fma(vec4f(xAt(j, 2u)), g4, a2);
        a3 = fma(vec4f(xAt(j, 3u)), g4, a3);
      }
      if (CG == 8u) { // twice the multiply-adds per load of dout
        a4 = fma(vec4f(xAt(j, 4u)), g4, a4);
        a5 = fma(vec4f(xAt(j, 5u)), g4, a5);
        a6 = fma(vec4f(xAt(j, 6u)), g4, a6);
        a7 = fma(vec4f(xAt(j, 7u)), g4, a7);
      }
    }
    ow++;
    if (ow == u.W) {
      ow = 0u;
      oh++;
      if (oh == u.H) { oh = 0u; }
    }
  }
  let base = chunk * u.MN + tap * u.Cin * u.Cout;
  put(base, ci, co, a0);
  if (CG >= 4u) {
    put(base, ci + 1u, co, a1);
    put(base, ci + 2u, co, a2);
    put(base, ci + 3u, co, a3);
  }
  if (CG == 8u) {
    put(base, ci + 4u, co, a4);
    put(base, ci + 5u, co, a5);
    put(base, ci + 6u, co, a6);
    put(base, ci + 7u, co, a7);
  }
}
