// Softmax, argmax and the losses with their gradients. These tensors are small (logits of a few classes,
// similarity matrices of a few hundred rows): one task each, scalar sums in float64 over a fixed order
// (rows, then classes), rounded once to float32. Softmax alone splits into tasks: each row is its own.

import { at } from './util';

/** Row-wise softmax of [rows, K]: exp(z − max) / Σ exp(z − max). Tasks: blocks of `per` rows (a row's own sum). */
export function softmax(z: usize, rows: i32, K: i32, per: i32, p: usize, t0: i32, t1: i32): void {
  for (let r = t0 * per, end = min(rows, t1 * per); r < end; r++) {
    const o = r * K;
    let mx = load<f32>(at(z, o));
    for (let k = 1; k < K; k++) mx = max(mx, load<f32>(at(z, o + k)));
    let s: f32 = 0;
    for (let k = 0; k < K; k++) {
      const e = Mathf.exp(load<f32>(at(z, o + k)) - mx);
      store<f32>(at(p, o + k), e);
      s += e;
    }
    for (let k = 0; k < K; k++) store<f32>(at(p, o + k), load<f32>(at(p, o + k)) / s);
  }
}

/** Index of the largest value of each row (ties: the lowest), as f32. */
export function argmax(z: usize, rows: i32, K: i32, out: usize): void {
  for (let r = 0; r < rows; r++) {
    let best = 0, bv = load<f32>(at(z, r * K));
    for (let k = 1; k < K; k++) {
      const v = load<f32>(at(z, r * K + k));
      if (v > bv) { bv = v; best = k; }
    }
    store<f32>(at(out, r), <f32>best);
  }
}

/**
 * Soft Dice over [B, HW, K] probabilities p and targets y: stats[b, k] = (I, S) with I = Σ p·y and
 * S = Σ p + Σ y + eps; loss = 1 − Σ_{b,k} 2I/S / (B·K).
 */
export function diceLoss(p: usize, y: usize, B: i32, HW: i32, K: i32, eps: f64, stats: usize, loss: usize): void {
  let acc: f64 = 0;
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) {
    let I: f64 = 0, P: f64 = 0, Y: f64 = 0;
    for (let r = 0; r < HW; r++) {
      const j = (b * HW + r) * K + k, pv = <f64>load<f32>(at(p, j)), yv = <f64>load<f32>(at(y, j));
      I += pv * yv;
      P += pv;
      Y += yv;
    }
    const S = P + Y + eps;
    store<f32>(at(stats, (b * K + k) * 2), <f32>I);
    store<f32>(at(stats, (b * K + k) * 2 + 1), <f32>S);
    acc += (2 * I) / S;
  }
  store<f32>(loss, <f32>(1 - acc / <f64>(B * K)));
}

/**
 * dz of the soft Dice loss through the softmax: per pixel, with g_k = scale·(y_k/S − I/S²) from its image's class
 * stats, dz_k = p_k·(g_k − Σ_j p_j·g_j). Tasks: blocks of `per` pixels; g_k is formed again for the second pass
 * (the same expression, so the same value) instead of being kept in a vector that tasks would share.
 */
export function diceBackward(p: usize, y: usize, stats: usize, dloss: usize, B: i32, HW: i32, K: i32, per: i32,
  dz: usize, t0: i32, t1: i32): void {
  const scale: f32 = (<f32>-2 / <f32>(B * K)) * load<f32>(dloss);
  for (let r = t0 * per, end = min(B * HW, t1 * per); r < end; r++) {
    const b = r / HW;
    let s: f32 = 0;
    for (let k = 0; k < K; k++) s += load<f32>(at(p, r * K + k)) * diceClassGrad(y, stats, scale, b, r, K, k);
    for (let k = 0; k < K; k++) {
      const pk = load<f32>(at(p, r * K + k));
      store<f32>(at(dz, r * K + k), pk * (diceClassGrad(y, stats, scale, b, r, K, k) - s));
    }
  }
}

/** g_k of diceBackward for pixel r of image b: scale·(y_k/S − I/S²). */
@inline function diceClassGrad(y: usize, stats: usize, scale: f32, b: i32, r: i32, K: i32, k: i32): f32 {
  const I = load<f32>(at(stats, (b * K + k) * 2)), S = load<f32>(at(stats, (b * K + k) * 2 + 1));
  return scale * (load<f32>(at(y, r * K + k)) / S - I / (S * S));
}

/** Weighted cross-entropy −Σ w_k·y·log p / rows, from probabilities p. */
export function crossEntropy(p: usize, y: usize, w: usize, rows: i32, K: i32, loss: usize): void {
  let s: f64 = 0;
  for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) {
    const yv = load<f32>(at(y, r * K + k));
    if (yv != 0) s -= <f64>(load<f32>(at(w, k)) * yv) * <f64>Mathf.log(load<f32>(at(p, r * K + k)));
  }
  store<f32>(loss, <f32>(s / <f64>rows));
}

/** dz = dloss/rows · (p·Σ_k w_k y_k − w·y). */
export function crossEntropyBackward(p: usize, y: usize, w: usize, dloss: usize, rows: i32, K: i32, dz: usize): void {
  const scale = load<f32>(dloss) / <f32>rows;
  for (let r = 0; r < rows; r++) {
    let sw: f32 = 0;
    for (let k = 0; k < K; k++) sw += load<f32>(at(w, k)) * load<f32>(at(y, r * K + k));
    for (let k = 0; k < K; k++) {
      const j = r * K + k;
      store<f32>(at(dz, j), scale * (load<f32>(at(p, j)) * sw - load<f32>(at(w, k)) * load<f32>(at(y, j))));
    }
  }
}

/** y = x/‖x‖ per row of [rows, D]; norms[r] = (1/‖x‖, Σx²), the norm floored at 1e-6 (Σx² at 1e-12). */
export function l2normalize(x: usize, rows: i32, D: i32, y: usize, norms: usize): void {
  for (let r = 0; r < rows; r++) {
    let s: f32 = 0;
    for (let d = 0; d < D; d++) {
      const v = load<f32>(at(x, r * D + d));
      s += v * v;
    }
    const inv = <f32>1 / Mathf.sqrt(max(s, <f32>1e-12));
    for (let d = 0; d < D; d++) store<f32>(at(y, r * D + d), load<f32>(at(x, r * D + d)) * inv);
    store<f32>(at(norms, 2 * r), inv);
    store<f32>(at(norms, 2 * r + 1), s);
  }
}

/** dx = inv·(g − y·(y·g)), the dot product dropped where the norm was floored. */
export function l2normalizeBackward(y: usize, norms: usize, g: usize, rows: i32, D: i32, dx: usize): void {
  for (let r = 0; r < rows; r++) {
    const inv = load<f32>(at(norms, 2 * r));
    let dot: f32 = 0;
    if (load<f32>(at(norms, 2 * r + 1)) > <f32>1e-12) {
      for (let d = 0; d < D; d++) dot += load<f32>(at(y, r * D + d)) * load<f32>(at(g, r * D + d));
    }
    for (let d = 0; d < D; d++) {
      const j = r * D + d;
      store<f32>(at(dx, j), inv * (load<f32>(at(g, j)) - load<f32>(at(y, j)) * dot));
    }
  }
}

/**
 * Masked InfoNCE over similarities s [N, N]: term t has anchor a = pairs[t, 0], positive p = pairs[t, 1] and
 * negatives {n : mask[t, n] ≠ 0}; lse[t] = log(e^{s_ap/τ} + Σ_n e^{s_an/τ}); loss = scale·Σ_t (lse[t] − s_ap/τ).
 */
export function contrastiveLoss(s: usize, N: i32, pairs: usize, mask: usize, T: i32, invTau: f32, scale: f32,
  lse: usize, loss: usize): void {
  let total: f64 = 0;
  for (let t = 0; t < T; t++) {
    const a = <i32>load<f32>(at(pairs, 2 * t)), p = <i32>load<f32>(at(pairs, 2 * t + 1));
    const vp = load<f32>(at(s, a * N + p)) * invTau;
    let m = vp;
    for (let n = 0; n < N; n++) {
      if (load<f32>(at(mask, t * N + n)) != 0) m = max(m, load<f32>(at(s, a * N + n)) * invTau);
    }
    let sum: f32 = Mathf.exp(vp - m);
    for (let n = 0; n < N; n++) {
      if (load<f32>(at(mask, t * N + n)) != 0) sum += Mathf.exp(load<f32>(at(s, a * N + n)) * invTau - m);
    }
    const l = m + Mathf.log(sum);
    store<f32>(at(lse, t), l);
    total += <f64>(scale * (l - vp));
  }
  store<f32>(loss, <f32>total);
}

/** d loss / d s of contrastiveLoss, terms added in order into ds (zeroed first). */
export function contrastiveBackward(s: usize, N: i32, pairs: usize, mask: usize, lse: usize, T: i32, dloss: usize,
  invTau: f32, scale: f32, ds: usize): void {
  memory.fill(ds, 0, <usize>(N * N) << 2);
  const g = load<f32>(dloss) * scale * invTau;
  for (let t = 0; t < T; t++) {
    const a = <i32>load<f32>(at(pairs, 2 * t)), p = <i32>load<f32>(at(pairs, 2 * t + 1)), l = load<f32>(at(lse, t));
    for (let j = 0; j < N; j++) {
      if (j == p || load<f32>(at(mask, t * N + j)) != 0) {
        const q = at(ds, a * N + j);
        store<f32>(q, load<f32>(q) + g * Mathf.exp(load<f32>(at(s, a * N + j)) * invTau - l));
      }
    }
    const q = at(ds, a * N + p);
    store<f32>(q, load<f32>(q) - g);
  }
}

/** mean((y − t)²) into loss[0]. */
export function mseLoss(y: usize, t: usize, n: i32, loss: usize): void {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <f64>(load<f32>(at(y, i)) - load<f32>(at(t, i)));
    s += d * d;
  }
  store<f32>(loss, <f32>(s / <f64>n));
}

/** dy = 2·(y − t)·dloss/n. */
export function mseBackward(y: usize, t: usize, dloss: usize, n: i32, dy: usize): void {
  const scale = (<f32>2 * load<f32>(dloss)) / <f32>n;
  for (let i = 0; i < n; i++) store<f32>(at(dy, i), (load<f32>(at(y, i)) - load<f32>(at(t, i))) * scale);
}
