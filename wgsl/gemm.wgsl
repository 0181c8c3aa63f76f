// Tiled GEMM core: C[M, N] = sum_k A[m, k] * B[k, n] for k in this workgroup's K-chunk.
// The op file composed in front of this one supplies the uniform block `u` (whose first fields are
// M, N, K, kChunk) and: prepA(m) -> RowsA, which decodes rows m..m+3 of A once (a thread loads the same
// rows for every k); loadA4(rows, k), those 4 rows at column k; prepB(n) -> ColsB and loadB4(cols, k),
// likewise for 4 columns of B; storeRow(m, n, chunk, v), 4 columns of one output row. Specialisation constants WX, WY (threads) and TK (k-step)
// are prepended by the runtime. Each thread keeps a 4×4 block in four vec4f locals (no indexed
// function-scope arrays: naga leaves those in memory).
// Determinism: every accumulator adds its products in increasing k, so the result depends only on
// the chunking of K (fixed by the host, independent of WX/WY/TK); chunks are summed later in order.

const BM: u32 = WY * 4u;
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
  // Loading: thread tid fills A-tile rows (tid % AG)·4.. at k = tid / AG + j·WX (NT = AG·WX), and
  // B-tile columns (tid % BG)·4.. at k = tid / BG + j·WY (NT = BG·WY).
  let aRows = prepA(m0 + (tid % AG) * 4u);
  let aSlot = tid % AG;
  let bCols = prepB(n0 + (tid % BG) * 4u);
  let bSlot = tid % BG;
  for (var kt = kBegin; kt < kEnd; kt += TK) {
    for (var kk = tid / AG; kk < TK; kk += WX) {
      let k = kt + kk;
      var v = vec4f(0.0);
      if (k < kEnd) { v = loadA4(aRows, k); }
      As[kk * AG + aSlot] = v;
    }
    for (var kk = tid / BG; kk < TK; kk += WY) {
      let k = kt + kk;
      var v = vec4f(0.0);
      if (k < kEnd) { v = loadB4(bCols, k); }
      Bs[kk * BG + bSlot] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = As[kk * AG + ty];
      let b = Bs[kk * BG + tx];
      acc0 = fma(vec4f(a.x), b, acc0);
      acc1 = fma(vec4f(a.y), b, acc1);
      acc2 = fma(vec4f(a.z), b, acc2);
      acc3 = fma(vec4f(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let m = m0 + ty * 4u;
  let n = n0 + tx * 4u;
  storeRow(m, n, wid.z, acc0);
  storeRow(m + 1u, n, wid.z, acc1);
  storeRow(m + 2u, n, wid.z, acc2);
  storeRow(m + 3u, n, wid.z, acc3);
}
