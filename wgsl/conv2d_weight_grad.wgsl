// Weight gradient of a stride-1 conv2d as a split-K GEMM:
// dw[(ky, kx, ci), co] = sum over pixels p of x[p shifted by (ky, kx)][ci] · dout[p][co].
// M = KH·KW·Cin, N = Cout, K = batch·H·W. Workgroup z handles pixels [z·kChunk, (z+1)·kChunk) and
// writes its partial sum to out[z·M·N + ...]; with one chunk that is the gradient itself, otherwise the
// host sums the chunks in order (reduce_chunks). Fixed order: the same inputs give the same bits.

// The 4 weight rows m..m+3 of a thread, (ky, kx, ci) decoded once: the input offset of each tap
// relative to the output pixel, and its shift for the bounds test. Out-of-range rows read as padding.
struct RowsA { off: vec4i, sy: vec4i, sx: vec4i }

fn prepA(m: u32) -> RowsA {
  var r: RowsA;
  let mv = vec4u(m, m + 1u, m + 2u, m + 3u);
  let ci = vec4i(mv % u.Cin);
  let t = mv / u.Cin;
  r.sx = vec4i(t % u.KW) - vec4i(i32(u.padL));
  r.sy = select(vec4i(t / u.KW) - vec4i(i32(u.padT)), vec4i(i32(u.H) * 4), mv >= vec4u(u.M));
  r.off = (r.sy * i32(u.W) + r.sx) * i32(u.Cin) + ci;
  return r;
}

fn tap(base: i32, ih: i32, iw: i32, off: i32) -> f32 {
  if (ih < 0 || iw < 0 || ih >= i32(u.H) || iw >= i32(u.W)) { return 0.0; }
  return x[u32(base + off)];
}

// A[m, k] = x at output pixel k shifted by tap m. When Cin is a multiple of 4 the thread's 4 rows are
// 4 consecutive channels of one tap: one bounds test and 4 contiguous loads.
fn loadA4(r: RowsA, k: u32) -> vec4f {
  let ow = i32(k % u.W);
  let oh = i32((k / u.W) % u.H);
  let base = i32(k * u.Cin);
  let ih = vec4i(oh) + r.sy;
  let iw = vec4i(ow) + r.sx;
  if (u.Cin % 4u == 0u) {
    if (ih.x < 0 || iw.x < 0 || ih.x >= i32(u.H) || iw.x >= i32(u.W)) { return vec4f(0.0); }
    let j = u32(base + r.off.x);
    return vec4f(x[j], x[j + 1u], x[j + 2u], x[j + 3u]);
  }
  return vec4f(tap(base, ih.x, iw.x, r.off.x), tap(base, ih.y, iw.y, r.off.y), tap(base, ih.z, iw.z, r.off.z), tap(base, ih.w, iw.w, r.off.w));
}

// B[k, n] = dout at pixel k, channel n; prepB, loadB4: gemm_cols.wgsl
fn bAt(k: u32, n: u32) -> f32 {
  if (n >= u.N) { return 0.0; }
  return dout[k * u.N + n];
}

// storeRow: gemm_store.wgsl (an M × N output per K chunk)
