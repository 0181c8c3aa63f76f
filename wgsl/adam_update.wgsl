// Adam as in TF 1.x: m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²; p -= lr_t · m / (sqrt(v) + eps),
// with lr_t = lr·sqrt(1 - b2^t)/(1 - b1^t) computed on the host for step t. Shared by adam.wgsl and
// adam4.wgsl (the kernel registry prepends it), so one tensor or four per dispatch give the same bits.
struct AdamScalars { lrT: f32, beta1: f32, beta2: f32, eps: f32 }

// (new p, new m, new v) from one element's gradient, weight and moments.
fn adamUpdate(a: AdamScalars, g: f32, p: f32, m: f32, v: f32) -> vec3f {
  let mi = a.beta1 * m + (1.0 - a.beta1) * g;
  let vi = a.beta2 * v + (1.0 - a.beta2) * g * g;
  return vec3f(p - a.lrT * mi / (sqrt(vi) + a.eps), mi, vi);
}
