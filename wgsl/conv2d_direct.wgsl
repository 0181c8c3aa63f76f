// Stride-1 conv2d in direct form, without workgroup memory: the forward pass, or with TRANSPOSED (a
// specialisation) the input gradient, which is the same sum with the taps mirrored and the weights read
// as [tap, out, in]. One invocation computes 4 consecutive pixels × OG groups of 4 output channels (OG in
// 1..4) in named vec4f accumulators, looping over taps and reduced channels; each weight vector is loaded
// once for 4 pixels and each input value once for OG·4 outputs. The output-channel group is
// workgroup_id.z; the kernel size KH×KW (and CRED1: one reduced channel) are specialisation constants, so
// the tap loops unroll; with STAGED (when they fit) the workgroup first copies the weights it needs to
// workgroup memory, where CPU adapters read a uniform address once rather than once per lane. Used for thin layers (the K-class logits,
// the 1-channel input), where a GEMM tile would be mostly padding, and on CPU adapters, where tiles in
// workgroup memory cost more than they save. NHWC activations, HWIO weights, TF SAME padding.
//   forward:        y[p, o]  = sum_{tap, c} x[p + (ky - padT, kx - padL), c] · w[ky, kx, c, o]
//   input gradient: dx[p, o] = sum_{tap, c} dy[p + (padT - ky, padL - kx), c] · w[ky, kx, o, c]

fn wAt(j: u32, co: u32) -> f32 {
  if (co >= u.Cout) { return 0.0; }
  return w[j];
}

// the weights of tap t, reduced channel c, output channels co..co+3 (zero past Cout)
fn w4(t: u32, c: u32, co: u32) -> vec4f {
  var b: u32;
  var s: u32;
  if (TRANSPOSED) {
    b = (t * u.Cout + co) * u.Cred + c;
    s = u.Cred;
  } else {
    b = (t * u.Cred + c) * u.Cout + co;
    s = 1u;
  }
  if (co + 3u < u.Cout) { return vec4f(w[b], w[b + s], w[b + 2u * s], w[b + 3u * s]); }
  return vec4f(wAt(b, co), wAt(b + s, co + 1u), wAt(b + 2u * s, co + 2u), 0.0);
}

// input at pixel p (row oh, column ow) shifted by (dy, dx), channel c; zero outside the image or past M
fn xAt(p: u32, oh: u32, ow: u32, dy: i32, dx: i32, c: u32) -> f32 {
  let ih = i32(oh) + dy;
  let iw = i32(ow) + dx;
  if (p >= u.M || ih < 0 || iw < 0 || ih >= i32(u.H) || iw >= i32(u.W)) { return 0.0; }
  return x[u32(i32(p * u.Cred) + (dy * i32(u.W) + dx) * i32(u.Cred)) + c];
}

fn bias4(co: u32) -> vec4f {
  if (u.hasBias == 0u) { return vec4f(0.0); }
  return vec4f(select(0.0, bias[co], co < u.Cout), select(0.0, bias[co + 1u], co + 1u < u.Cout),
               select(0.0, bias[co + 2u], co + 2u < u.Cout), select(0.0, bias[co + 3u], co + 3u < u.Cout));
}

// v already holds the bias
fn put(p: u32, co: u32, v: vec4f) {
  if (p >= u.M || co >= u.Cout) { return; }
  let j = p * u.Cout + co;
  if (co + 3u < u.Cout) {
    y[j] = v.x;
    y[j + 1u] = v.y;
    y[j + 2u] = v.z;
    y[j + 3u] = v.w;
    return;
  }
  y[j] = v.x;
  if (co + 1u < u.Cout) { y[j + 1u] = v.y; }
  if (co + 2u < u.Cout) { y[j + 2u] = v.z; }
}

// staged weights [tap][channel][group] (STAGED: KH·KW·Cred·OG <= 1024, checked by the host)
var<workgroup> ws: array<vec4f, 1024>;

fn wAtStage(t: u32, c: u32, co: u32, g: u32) -> vec4f {
  if (STAGED) { return ws[(t * u.Cred + c) * OG + g]; }
  return w4(t, c, co + 4u * g);
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lidx: u32, @builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(workgroup_id) wid: vec3u) {
  // no early return: every invocation takes part in staging (barriers need uniform control flow);
  // pixels past M read zeros and store nothing
  let i = gid.x + gid.y * nwg.x * 64u;
  let co = wid.z * 4u * OG;
  let pb = i * 4u;
  let p0 = pb + 0u;
  let ow0 = p0 % u.W;
  let oh0 = (p0 / u.W) % u.H;
  let p1 = pb + 1u;
  let ow1 = p1 % u.W;
  let oh1 = (p1 / u.W) % u.H;
  let p2 = pb + 2u;
  let ow2 = p2 % u.W;
  let oh2 = (p2 / u.W) % u.H;
  let p3 = pb + 3u;
  let ow3 = p3 % u.W;
  let oh3 = (p3 / u.W) % u.H;
  var a00 = vec4f(0.0);
  var a01 = vec4f(0.0);
  var a02 = vec4f(0.0);
  var a03 = vec4f(0.0);
  var a10 = vec4f(0.0);
  var a11 = vec4f(0.0);
  var a12 = vec4f(0.0);
  var a13 = vec4f(0.0);
  var a20 = vec4f(0.0);
  var a21 = vec4f(0.0);
  var a22 = vec4f(0.0);
  var a23 = vec4f(0.0);
  var a30 = vec4f(0.0);
  var a31 = vec4f(0.0);
  var a32 = vec4f(0.0);
  var a33 = vec4f(0.0);
  // Interior pixels (every tap inside the image, all 4 pixels present) skip the per-tap bounds tests.
  var lo = vec2i(-i32(u.padT), -i32(u.padL));
  var hi = vec2i(i32(KH) - 1 - i32(u.padT), i32(KW) - 1 - i32(u.padL));
  if (TRANSPOSED) {
    let l = lo;
    lo = -hi;
    hi = -l;
  }
  let ohs = vec4i(vec4u(oh0, oh1, oh2, oh3));
  let ows = vec4i(vec4u(ow0, ow1, ow2, ow3));
  let inner = p3 < u.M && all(ohs + lo.x >= vec4i(0)) && all(ohs + hi.x < vec4i(i32(u.H)))
    && all(ows + lo.y >= vec4i(0)) && all(ows + hi.y < vec4i(i32(u.W)));
  if (STAGED) {
    // every invocation takes part (the barrier needs uniform control flow)
    for (var j = lidx; j < KH * KW * u.Cred * OG; j += 64u) {
      let g = j % OG;
      let tc = j / OG;
      ws[j] = w4(tc / u.Cred, tc % u.Cred, co + 4u * g);
    }
    workgroupBarrier();
  }
  let cred = select(u.Cred, 1u, CRED1); // a constant 1 for the 1-channel input layer
  for (var ky = 0u; ky < KH; ky++) {
    var dy = i32(ky) - i32(u.padT);
    if (TRANSPOSED) { dy = -dy; }
    for (var kx = 0u; kx < KW; kx++) {
      var dx = i32(kx) - i32(u.padL);
      if (TRANSPOSED) { dx = -dx; }
      let t = ky * KW + kx;
      let off = (dy * i32(u.W) + dx) * i32(u.Cred);
      for (var ci = 0u; ci < cred; ci++) {
        var x0: vec4f;
        var x1: vec4f;
        var x2: vec4f;
        var x3: vec4f;
        if (inner) {
          let o = off + i32(ci);
          x0 = vec4f(x[u32(i32(p0 * u.Cred) + o)]);
          x1 = vec4f(x[u32(i32(p1 * u.Cred) + o)]);
          x2 = vec4f(x[u32(i32(p2 * u.Cred) + o)]);
          x3 = vec4f(x[u32(i32(p3 * u.Cred) + o)]);
        } else {
          x0 = vec4f(xAt(p0, oh0, ow0, dy, dx, ci));
          x1 = vec4f(xAt(p1, oh1, ow1, dy, dx, ci));
          x2 = vec4f(xAt(p2, oh2, ow2, dy, dx, ci));
          x3 = vec4f(xAt(p3, oh3, ow3, dy, dx, ci));
        }
        let w0 = wAtStage(t, ci, co, 0u);
        a00 = fma(x0, w0, a00);
        a10 = fma(x1, w0, a10);
        a20 = fma(x2, w0, a20);
        a30 = fma(x3, w0, a30);
        if (OG > 1u) {
          let w1 = wAtStage(t, ci, co, 1u);
          a01 = fma(x0, w1, a01);
          a11 = fma(x1, w1, a11);
          a21 = fma(x2, w1, a21);
          a31 = fma(x3, w1, a31);
        }
        if (OG > 2u) {
          let w2 = wAtStage(t, ci, co, 2u);
          a02 = fma(x0, w2, a02);
          a12 = fma(x1, w2, a12);
          a22 = fma(x2, w2, a22);
          a32 = fma(x3, w2, a32);
        }
        if (OG > 3u) {
          let w3 = wAtStage(t, ci, co, 3u);
          a03 = fma(x0, w3, a03);
          a13 = fma(x1, w3, a13);
          a23 = fma(x2, w3, a23);
          a33 = fma(x3, w3, a33);
        }
      }
    }
  }
  let b0 = bias4(co);
  put(p0, co + 0u, a00 + b0);
  put(p1, co + 0u, a10 + b0);
  put(p2, co + 0u, a20 + b0);
  put(p3, co + 0u, a30 + b0);
  if (OG > 1u) {
    let b1 = bias4(co + 4u);
    put(p0, co + 4u, a01 + b1);
    put(p1, co + 4u, a11 + b1);
    put(p2, co + 4u, a21 + b1);
    put(p3, co + 4u, a31 + b1);
  }
  if (OG > 2u) {
    let b2 = bias4(co + 8u);
    put(p0, co + 8u, a02 + b2);
    put(p1, co + 8u, a12 + b2);
    put(p2, co + 8u, a22 + b2);
    put(p3, co + 8u, a32 + b2);
  }
  if (OG > 3u) {
    let b3 = bias4(co + 12u);
    put(p0, co + 12u, a03 + b3);
    put(p1, co + 12u, a13 + b3);
    put(p2, co + 12u, a23 + b3);
    put(p3, co + 12u, a33 + b3);
  }
}
