// Adam as in TF 1.x: m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²; p -= lr_t · m / (sqrt(v) + eps),
// with lr_t = lr·sqrt(1 - b2^t)/(1 - b1^t) computed on the host for step t. Shared by adam.wgsl and
// adam4.wgsl (the kernel registry puts it before them), so one tensor or four per dispatch give the same bits.

// (new p, new m, new v) from one element's gradient, weight and moments; the step's lrT, beta1, beta2 and eps are
// both kernels' uniforms.
fn adamUpdate(g: f32, p: f32, m: f32, v: f32) -> vec3f {
  let mi = u.beta1 * m + (1.0 - u.beta1) * g;
  let vi = u.beta2 * v + (1.0 - u.beta2) * g * g;
  return vec3f(p - u.lrT * mi / (sqrt(vi) + u.eps), mi, vi);
}
