// The wasm column of the element-wise op table (src/ops/table.ts): each op's forward kernel
// (x, n, y, ...attrs, t0, t1) and its gradient from the output (y, dy, n, dx, ...attrs, t0, t1).
// Tasks are blocks of BLOCK elements; there are no reductions, so any thread gives the same bits.

import { at } from './util';

const BLOCK: i32 = 4096;

/** y = max(x, 0). Tasks: blocks of BLOCK elements. */
export function relu(x: usize, n: i32, y: usize, t0: i32, t1: i32): void {
  const end = min(n, t1 * BLOCK), zero = f32x4.splat(0);
  let i = t0 * BLOCK;
  for (; i + 4 <= end; i += 4) v128.store(at(y, i), f32x4.max(v128.load(at(x, i)), zero));
  for (; i < end; i++) store<f32>(at(y, i), max(load<f32>(at(x, i)), <f32>0));
}

/** dx = dy where y > 0, else 0. */
export function reluBackward(y: usize, dy: usize, n: i32, dx: usize, t0: i32, t1: i32): void {
  const end = min(n, t1 * BLOCK), zero = f32x4.splat(0);
  let i = t0 * BLOCK;
  for (; i + 4 <= end; i += 4) {
    v128.store(at(dx, i), v128.and(v128.load(at(dy, i)), f32x4.gt(v128.load(at(y, i)), zero)));
  }
  for (; i < end; i++) store<f32>(at(dx, i), load<f32>(at(y, i)) > 0 ? load<f32>(at(dy, i)) : 0);
}

/** y = x where x > 0, else alpha·x (NaN stays NaN). */
export function leakyRelu(x: usize, n: i32, y: usize, alpha: f32, t0: i32, t1: i32): void {
  const end = min(n, t1 * BLOCK), zero = f32x4.splat(0), a = f32x4.splat(alpha);
  let i = t0 * BLOCK;
  for (; i + 4 <= end; i += 4) {
    const v = v128.load(at(x, i));
    v128.store(at(y, i), v128.bitselect(v, f32x4.mul(a, v), f32x4.gt(v, zero)));
  }
  for (; i < end; i++) {
    const v = load<f32>(at(x, i));
    store<f32>(at(y, i), v > 0 ? v : alpha * v);
  }
}

/** dx = dy where y > 0, else alpha·dy. */
export function leakyReluBackward(y: usize, dy: usize, n: i32, dx: usize, alpha: f32, t0: i32, t1: i32): void {
  const end = min(n, t1 * BLOCK), zero = f32x4.splat(0), a = f32x4.splat(alpha);
  let i = t0 * BLOCK;
  for (; i + 4 <= end; i += 4) {
    const g = v128.load(at(dy, i));
    v128.store(at(dx, i), v128.bitselect(g, f32x4.mul(a, g), f32x4.gt(v128.load(at(y, i)), zero)));
  }
  for (; i < end; i++) {
    const g = load<f32>(at(dy, i));
    store<f32>(at(dx, i), load<f32>(at(y, i)) > 0 ? g : alpha * g);
  }
}
