// Dense matmul C = op(A) · op(B), row-major; TRANS_A / TRANS_B (specialisation) read A as [K, M] / B as [N, K].
// Split-K like the conv weight gradient: chunk z writes out[z·M·N + ...], summed in order by the host.

fn aAt(m: u32, k: u32) -> f32 {
  if (m >= u.M) { return 0.0; }
  if (TRANS_A) { return a[k * u.M + m]; }
  return a[m * u.K + k];
}

struct RowsA { m: u32 }

fn prepA(m: u32) -> RowsA { return RowsA(m); }

fn loadA4(r: RowsA, k: u32) -> vec4f {
  return vec4f(aAt(r.m, k), aAt(r.m + 1u, k), aAt(r.m + 2u, k), aAt(r.m + 3u, k));
}

fn bAt(k: u32, n: u32) -> f32 {
  if (n >= u.N) { return 0.0; }
  if (TRANS_B) { return b[n * u.K + k]; }
  return b[k * u.N + n];
}

// prepB, loadB4: gemm_cols.wgsl

// storeRow: gemm_store.wgsl (an M × N output per K chunk)
