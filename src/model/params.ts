// Trainable parameters, batch-norm moving averages, and the Adam optimizer state, all on the backend.
// Initial values are drawn on the host from a seeded stream, so every backend starts from the same numbers.

import { type AdamOptions, ADAM_DEFAULTS, type Backend, type Shape } from '../ops/backend.ts';
import { Var } from '../autodiff/tape.ts';
import type { BatchNormState } from '../autodiff/ops.ts';
import type { Rng } from '../util/random.ts';

export type Init = 'he-normal' | 'glorot-uniform' | 'zeros' | 'ones';

interface Slot<T> {
  name: string;
  v: Var<T>;
  m: T;
  s: T;
}

export class ParamSet<T> {
  readonly slots: Slot<T>[] = [];
  readonly batchNorms: { name: string; state: BatchNormState<T> }[] = [];
  /** Adam steps taken. */
  step = 0;

  constructor(
    readonly be: Backend<T>,
    private rng: Rng,
  ) {}

  param(name: string, shape: Shape, init: Init): Var<T> {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n); // float32 values, so the f64 reference starts from identical numbers
    if (init === 'he-normal') {
      const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < n; i++) data[i] = this.rng.normal() * std;
    } else if (init === 'glorot-uniform') {
      const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
      const fanOut = shape.length === 4 ? shape[0] * shape[1] * shape[3] : shape[1];
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) data[i] = this.rng.uniform(-lim, lim);
    } else if (init === 'ones') data.fill(1);
    const v = new Var(this.be.fromHost(data, shape), true, name);
    this.slots.push({ name, v, m: this.be.full(shape, 0), s: this.be.full(shape, 0) });
    return v;
  }

  batchNorm(name: string, channels: number): BatchNormState<T> {
    const state: BatchNormState<T> = {
      gamma: this.param(`${name}/gamma`, [channels], 'ones'),
      beta: this.param(`${name}/beta`, [channels], 'zeros'),
      movingMean: this.be.full([channels], 0),
      movingVar: this.be.full([channels], 1),
    };
    this.batchNorms.push({ name, state });
    return state;
  }

  /** Apply Adam to every parameter that received a gradient (one call: the backend batches them), then drop the gradients. */
  adamStep(o: AdamOptions = ADAM_DEFAULTS): void {
    this.step++;
    const updated = this.slots.filter((s) => s.v.grad !== null);
    this.be.adam(
      updated.map((s) => ({ p: s.v.value, g: s.v.grad!, m: s.m, v: s.s })),
      this.step,
      o,
    );
    for (const s of updated) {
      this.be.release(s.v.grad!);
      s.v.grad = null;
    }
  }

  dropGrads(): void {
    for (const s of this.slots) {
      if (s.v.grad !== null) this.be.release(s.v.grad);
      s.v.grad = null;
    }
  }

  /** Release every buffer (weights, Adam moments, moving averages): the set is unusable afterwards. */
  dispose(): void {
    this.dropGrads();
    for (const s of this.slots) for (const t of [s.v.value, s.m, s.s]) this.be.release(t);
    for (const b of this.batchNorms) for (const t of [b.state.movingMean, b.state.movingVar]) this.be.release(t);
    this.slots.length = 0;
    this.batchNorms.length = 0;
  }

  get count(): number {
    return this.slots.reduce((a, s) => a + this.be.shape(s.v.value).reduce((x, y) => x * y, 1), 0);
  }
}
