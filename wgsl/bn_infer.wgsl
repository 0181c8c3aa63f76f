// Batch norm at inference for one value of a channel: (v - moving mean) / sqrt(moving variance + eps) · gamma + beta.
// Shared by bn_apply.wgsl (INFER), conv2d_forward.wgsl's bnRelu epilogue and reduce_bn_relu.wgsl (the kernel
// registry prepends it), so the fused and the separate passes compute one expression.
fn bnInfer(v: f32, mean: f32, variance: f32, gamma: f32, beta: f32, eps: f32) -> f32 {
  return (v - mean) * (1.0 / sqrt(variance + eps)) * gamma + beta;
}
