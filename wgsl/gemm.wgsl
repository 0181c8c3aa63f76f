// Tiled GEMM core: C[M, N] = sum_k A[m, k] * B[k, n] for k in this workgroup's K-chunk.
// The op file composed in front of this one supplies the uniform block `u` (whose first fields are
// M, N, K, kChunk) and: prepA(m) -> RowsA, which decodes rows m..m+3 of A once (a thread loads the same
// rows for every k); loadA4(rows, k), those 4 rows at column k; prepB(n) -> ColsB and loadB4(cols, k),
// likewise for 4 columns of B; storeRow(m, n, chunk, v), 4 columns of one output row.
// Specialisation constants, prepended by the runtime: WX, WY (threads), TK (k-step), RB (1, 2 or 4 groups
// of 4 rows per thread) and AK (how threads share the A-tile loads: k fastest, or rows fastest). Each thread
// keeps a (4·RB)×4 block in vec4f locals (no indexed function-scope arrays: naga leaves those in memory). A larger RB cuts the workgroup-memory loads per multiply-add, which
// matters where those loads are gathers (CPU adapters).
// Determinism: every accumulator adds its products in increasing k, so the result depends only on
// the chunking of K (fixed by the host, independent of WX/WY/TK); chunks are summed later in order.

const BM: u32 = WY * 4u * RB;
const BN: u32 = WX * 4u;
const NT: u32 = WX * WY;
const AG: u32 = BM / 4u;
const BG: u32 = BN / 4u;

var<workgroup> As: array<vec4f, TK * AG>;
var<workgroup> Bs: array<vec4f, TK * BG>;

@compute @workgroup_size(WX, WY, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * WX + tx;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let kBegin = wid.z * u.kChunk;
  let kEnd = min(kBegin + u.kChunk, u.K);
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  var acc4 = vec4f(0.0);
  var acc5 = vec4f(0.0);
  var acc6 = vec4f(0.0);
  var acc7 = vec4f(0.0);
  var acc8 = vec4f(0.0);
  var acc9 = vec4f(0.0);
  var acc10 = vec4f(0.0);
  var acc11 = vec4f(0.0);
  var acc12 = vec4f(0.0);
  var acc13 = vec4f(0.0);
  var acc14 = vec4f(0.0);
  var acc15 = vec4f(0.0);
  // Loading: thread tid fills A-tile rows (tid % AG)·4.. at k = tid / AG + j·(WX/RB) (NT = AG·WX/RB),
  // and B-tile columns (tid % BG)·4.. at k = tid / BG + j·WY (NT = BG·WY).
  let aRows = prepA(m0 + (tid % AG) * 4u);
  let aSlot = tid % AG;
  let bCols = prepB(n0 + (tid % BG) * 4u);
  let bSlot = tid % BG;
  for (var kt = kBegin; kt < kEnd; kt += TK) {
    if (AK) {
      // k fastest across threads: neighbouring threads read neighbouring channels of one NHWC pixel
      // (coalesced where A is an im2col gather); each thread decodes its rows per load
      for (var s = tid / TK; s < AG; s += NT / TK) { // the host keeps NT a multiple of TK
        let k = kt + tid % TK;
        var v = vec4f(0.0);
        if (k < kEnd) { v = loadA4(prepA(m0 + s * 4u), k); }
        As[(tid % TK) * AG + s] = v;
      }
    } else {
      for (var kk = tid / AG; kk < TK; kk += max(WX / RB, 1u)) { // the host keeps WX a multiple of RB
        let k = kt + kk;
        var v = vec4f(0.0);
        if (k < kEnd) { v = loadA4(aRows, k); }
        As[kk * AG + aSlot] = v;
      }
    }
    for (var kk = tid / BG; kk < TK; kk += WY) {
      let k = kt + kk;
      var v = vec4f(0.0);
      if (k < kEnd) { v = loadB4(bCols, k); }
      Bs[kk * BG + bSlot] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = As[kk * AG + ty * RB];
      let b = Bs[kk * BG + tx];
      acc0 = fma(vec4f(a.x), b, acc0);
      acc1 = fma(vec4f(a.y), b, acc1);
      acc2 = fma(vec4f(a.z), b, acc2);
      acc3 = fma(vec4f(a.w), b, acc3);
      if (RB >= 2u) {
        let a1 = As[kk * AG + ty * RB + 1u];
        acc4 = fma(vec4f(a1.x), b, acc4);
        acc5 = fma(vec4f(a1.y), b, acc5);
        acc6 = fma(vec4f(a1.z), b, acc6);
        acc7 = fma(vec4f(a1.w), b, acc7);
      }
      if (RB == 4u) {
        let a2 = As[kk * AG + ty * RB + 2u];
        acc8 = fma(vec4f(a2.x), b, acc8);
        acc9 = fma(vec4f(a2.y), b, acc9);
        acc10 = fma(vec4f(a2.z), b, acc10);
        acc11 = fma(vec4f(a2.w), b, acc11);
        let a3 = As[kk * AG + ty * RB + 3u];
        acc12 = fma(vec4f(a3.x), b, acc12);
        acc13 = fma(vec4f(a3.y), b, acc13);
        acc14 = fma(vec4f(a3.z), b, acc14);
        acc15 = fma(vec4f(a3.w), b, acc15);
      }
    }
    workgroupBarrier();
  }
  let m = m0 + ty * 4u * RB;
  let n = n0 + tx * 4u;
  storeRow(m, n, wid.z, acc0);
  storeRow(m + 1u, n, wid.z, acc1);
  storeRow(m + 2u, n, wid.z, acc2);
  storeRow(m + 3u, n, wid.z, acc3);
  if (RB >= 2u) {
    storeRow(m + 4u, n, wid.z, acc4);
    storeRow(m + 5u, n, wid.z, acc5);
    storeRow(m + 6u, n, wid.z, acc6);
    storeRow(m + 7u, n, wid.z, acc7);
  }
  if (RB == 4u) {
    storeRow(m + 8u, n, wid.z, acc8);
    storeRow(m + 9u, n, wid.z, acc9);
    storeRow(m + 10u, n, wid.z, acc10);
    storeRow(m + 11u, n, wid.z, acc11);
    storeRow(m + 12u, n, wid.z, acc12);
    storeRow(m + 13u, n, wid.z, acc13);
    storeRow(m + 14u, n, wid.z, acc14);
    storeRow(m + 15u, n, wid.z, acc15);
  }
}
