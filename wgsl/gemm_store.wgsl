// The GEMM core's store for a plain row-major output: out[chunk·M·N + m·N + n], the columns past N and the rows
// past M dropped. Shared by matmul.wgsl and conv2d_weight_grad.wgsl (conv2d_forward stores its own, fused).
fn st(base: u32, m: u32, n: u32, v: f32) {
  if (n < u.N) { out[base + m * u.N + n] = v; }
}

fn storeRow(m: u32, n: u32, chunk: u32, v: vec4f) {
  if (m >= u.M) { return; }
  let base = chunk * u.M * u.N;
  st(base, m, n, v.x);
  st(base, m, n + 1u, v.y);
  st(base, m, n + 2u, v.z);
  st(base, m, n + 3u, v.w);
}
