// The GEMM core's B loader for a B read element by element: 4 columns n..n+3 at row k, through the op's
// bAt(k, n) (0 for columns past N). Shared by conv2d_forward (weights), conv2d_weight_grad (dout) and matmul.
struct ColsB { n: u32 }

fn prepB(n: u32) -> ColsB { return ColsB(n); }

fn loadB4(c: ColsB, k: u32) -> vec4f {
  return vec4f(bAt(k, c.n), bAt(k, c.n + 1u), bAt(k, c.n + 2u), bAt(k, c.n + 3u));
}
