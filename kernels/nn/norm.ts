// Per-channel reductions (bias gradients, batch norm) over the rows of an [rows, C] tensor. Rows are summed in
// chunks of chunkRows whose size the host derives from the shape; each chunk's sums land in its own partial
// row (tasks = chunks), and sumChunks (gemm.ts) adds the partials in chunk order: the bits do not depend on
// how tasks are spread over threads. Within a chunk each channel's sum runs over the rows in order.

import { at } from './util';

/** partial[c, ch] = Σ over chunk c's rows of x[r, ch]. */
export function colSums(x: usize, rows: i32, C: i32, chunkRows: i32, partial: usize, t0: i32, t1: i32): void {
  for (let chunk = t0; chunk < t1; chunk++) {
    const r0 = chunk * chunkRows, r1 = min(rows, r0 + chunkRows), out = at(partial, chunk * C);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      let s = f32x4.splat(0);
      for (let r = r0; r < r1; r++) s = f32x4.add(s, v128.load(at(x, r * C + c)));
      v128.store(at(out, c), s);
    }
    for (; c < C; c++) {
      let s: f32 = 0;
      for (let r = r0; r < r1; r++) s += load<f32>(at(x, r * C + c));
      store<f32>(at(out, c), s);
    }
  }
}

/** partial[c, ch] = Σ over chunk c's rows of (x[r, ch] − mean[ch])². */
export function colSquaredDeviations(x: usize, rows: i32, C: i32, mean: usize, chunkRows: i32, partial: usize,
  t0: i32, t1: i32): void {
  for (let chunk = t0; chunk < t1; chunk++) {
    const r0 = chunk * chunkRows, r1 = min(rows, r0 + chunkRows), out = at(partial, chunk * C);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      let s = f32x4.splat(0);
      const mu = v128.load(at(mean, c));
      for (let r = r0; r < r1; r++) {
        const d = f32x4.sub(v128.load(at(x, r * C + c)), mu);
        s = f32x4.add(s, f32x4.mul(d, d));
      }
      v128.store(at(out, c), s);
    }
    for (; c < C; c++) {
      let s: f32 = 0;
      const mu = load<f32>(at(mean, c));
      for (let r = r0; r < r1; r++) {
        const d = load<f32>(at(x, r * C + c)) - mu;
        s += d * d;
      }
      store<f32>(at(out, c), s);
    }
  }
}

/**
 * From the batch's mean and (biased) variance: invstd = 1/√(var + eps), and the moving averages
 * rm ← decay·rm + (1−decay)·mean, rv ← decay·rv + (1−decay)·var·n/(n−1).
 */
export function bnFinish(mean: usize, variance: usize, C: i32, eps: f32, decay: f32, unbias: f32, runMean: usize,
  runVar: usize, invstd: usize): void {
  for (let c = 0; c < C; c++) {
    const mu = load<f32>(at(mean, c)), v = load<f32>(at(variance, c));
    store<f32>(at(invstd, c), <f32>1 / Mathf.sqrt(v + eps));
    if (runMean != 0) {
      store<f32>(at(runMean, c), decay * load<f32>(at(runMean, c)) + (<f32>1 - decay) * mu);
      store<f32>(at(runVar, c), decay * load<f32>(at(runVar, c)) + (<f32>1 - decay) * (v * unbias));
    }
  }
}

/** invstd = 1/√(var + eps) (inference: the moving variance). */
export function bnInvstd(variance: usize, C: i32, eps: f32, invstd: usize): void {
  for (let c = 0; c < C; c++) store<f32>(at(invstd, c), <f32>1 / Mathf.sqrt(load<f32>(at(variance, c)) + eps));
}

/** y = ((x − mean)·invstd)·gamma + beta, then max(y, 0) when relu. Tasks: blocks of 64 rows. */
export function bnApply(x: usize, rows: i32, C: i32, mean: usize, invstd: usize, gamma: usize, beta: usize, relu: i32,
  y: usize, t0: i32, t1: i32): void {
  const r1 = min(rows, t1 * 64), zero = f32x4.splat(0);
  for (let r = t0 * 64; r < r1; r++) {
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const i = r * C + c;
      let v = f32x4.mul(f32x4.sub(v128.load(at(x, i)), v128.load(at(mean, c))), v128.load(at(invstd, c)));
      v = f32x4.add(f32x4.mul(v, v128.load(at(gamma, c))), v128.load(at(beta, c)));
      v128.store(at(y, i), relu ? f32x4.max(v, zero) : v);
    }
    for (; c < C; c++) {
      const i = r * C + c;
      let v = (load<f32>(at(x, i)) - load<f32>(at(mean, c))) * load<f32>(at(invstd, c));
      v = v * load<f32>(at(gamma, c)) + load<f32>(at(beta, c));
      store<f32>(at(y, i), relu ? max(v, <f32>0) : v);
    }
  }
}

/** The gradient reaching batch norm: dy, or dy masked where the fused ReLU's output is ≤ 0. */
@inline function gradIn(dy: usize, reluOut: usize, i: i32): v128 {
  const g = v128.load(at(dy, i));
  return reluOut == 0 ? g : v128.and(g, f32x4.gt(v128.load(at(reluOut, i)), f32x4.splat(0)));
}

@inline function gradIn1(dy: usize, reluOut: usize, i: i32): f32 {
  const g = load<f32>(at(dy, i));
  return reluOut == 0 || load<f32>(at(reluOut, i)) > 0 ? g : 0;
}

/**
 * Per chunk: Σ g (into pBeta) and Σ g·(x − mean)·invstd (into pGamma), g the gradient reaching batch norm.
 * Partials are [chunks, C] each.
 */
export function bnGradSums(x: usize, dy: usize, reluOut: usize, mean: usize, invstd: usize, rows: i32, C: i32,
  chunkRows: i32, pBeta: usize, pGamma: usize, t0: i32, t1: i32): void {
  for (let chunk = t0; chunk < t1; chunk++) {
    const r0 = chunk * chunkRows, r1 = min(rows, r0 + chunkRows);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      let sb = f32x4.splat(0), sg = sb;
      const mu = v128.load(at(mean, c)), is = v128.load(at(invstd, c));
      for (let r = r0; r < r1; r++) {
        const i = r * C + c, g = gradIn(dy, reluOut, i);
        sb = f32x4.add(sb, g);
        sg = f32x4.add(sg, f32x4.mul(g, f32x4.mul(f32x4.sub(v128.load(at(x, i)), mu), is)));
      }
      v128.store(at(pBeta, chunk * C + c), sb);
      v128.store(at(pGamma, chunk * C + c), sg);
    }
    for (; c < C; c++) {
      let sb: f32 = 0, sg: f32 = 0;
      const mu = load<f32>(at(mean, c)), is = load<f32>(at(invstd, c));
      for (let r = r0; r < r1; r++) {
        const i = r * C + c, g = gradIn1(dy, reluOut, i);
        sb += g;
        sg += g * ((load<f32>(at(x, i)) - mu) * is);
      }
      store<f32>(at(pBeta, chunk * C + c), sb);
      store<f32>(at(pGamma, chunk * C + c), sg);
    }
  }
}

/** dx = gamma·invstd·(g − dbeta/n − x̂·dgamma/n), x̂ = (x − mean)·invstd. Tasks: blocks of 64 rows. */
export function bnGradApply(x: usize, dy: usize, reluOut: usize, mean: usize, invstd: usize, gamma: usize,
  dbeta: usize, dgamma: usize, rows: i32, C: i32, dx: usize, t0: i32, t1: i32): void {
  const r1 = min(rows, t1 * 64), n = <f32>rows, vn = f32x4.splat(n);
  for (let r = t0 * 64; r < r1; r++) {
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const i = r * C + c, is = v128.load(at(invstd, c));
      const xhat = f32x4.mul(f32x4.sub(v128.load(at(x, i)), v128.load(at(mean, c))), is);
      const mb = f32x4.div(v128.load(at(dbeta, c)), vn), mg = f32x4.div(v128.load(at(dgamma, c)), vn);
      const inner = f32x4.sub(f32x4.sub(gradIn(dy, reluOut, i), mb), f32x4.mul(xhat, mg));
      v128.store(at(dx, i), f32x4.mul(f32x4.mul(v128.load(at(gamma, c)), is), inner));
    }
    for (; c < C; c++) {
      const i = r * C + c, is = load<f32>(at(invstd, c));
      const xhat = (load<f32>(at(x, i)) - load<f32>(at(mean, c))) * is;
      const mb = load<f32>(at(dbeta, c)) / n, mg = load<f32>(at(dgamma, c)) / n;
      store<f32>(at(dx, i), (load<f32>(at(gamma, c)) * is) * (gradIn1(dy, reluOut, i) - mb - xhat * mg));
    }
  }
}
