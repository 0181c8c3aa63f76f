// A small reverse-mode tape over the primitive ops of a Backend. Model code is written forward only with
// the functions of autodiff/ops.ts; each records a closure that turns its output's gradient into its inputs'.
// Fused kernels (conv + bias + BN statistics, BN apply + ReLU folded into the next conv) slot in as new
// functions with their own closures, so model code does not change.

import type { Backend, Shape } from '../ops/backend.ts';

export class Var<T> {
  grad: T | null = null;
  /** `requiresGrad` of a parameter may be switched off to freeze it (no gradient is computed for it then). */
  constructor(
    public value: T,
    public requiresGrad: boolean,
    readonly name = '',
  ) {}
}

interface Entry<T> {
  out: Var<T>;
  backward: (g: T) => void;
}

export class Tape<T> {
  private entries: Entry<T>[] = [];
  /** Forward values owned by this step (released by dispose). */
  private owned: T[] = [];

  constructor(
    readonly be: Backend<T>,
    readonly recording = true,
  ) {}

  /** Wrap an op's output; it needs a gradient when any input does and the tape records. */
  result(value: T, inputs: (Var<T> | null)[]): Var<T> {
    this.owned.push(value);
    return new Var(value, this.recording && inputs.some((v) => v?.requiresGrad));
  }

  /** Keep a value needed by a backward closure alive until dispose. */
  keep(value: T): T {
    this.owned.push(value);
    return value;
  }

  record(out: Var<T>, backward: (g: T) => void): void {
    if (out.requiresGrad) this.entries.push({ out, backward });
  }

  /** Add g to v's gradient (taking ownership of g). */
  addGrad(v: Var<T>, g: T): void {
    if (!v.requiresGrad) {
      this.be.release(g);
      return;
    }
    if (v.grad === null) v.grad = g;
    else {
      this.be.accumulate(v.grad, g);
      this.be.release(g);
    }
  }

  /** Backpropagate from a scalar loss. Parameter gradients stay on the parameters' Vars. */
  backward(loss: Var<T>): void {
    if (!loss.requiresGrad) throw new Error('backward: the loss does not depend on any trainable parameter');
    loss.grad = this.be.full([1], 1);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { out, backward } = this.entries[i];
      const g = out.grad;
      if (g === null) continue;
      backward(g);
      // An intermediate's gradient is dead once its producer has used it.
      this.be.release(g);
      out.grad = null;
    }
    this.entries = [];
  }

  /** Release every forward value of this step. */
  dispose(): void {
    for (const t of this.owned) this.be.release(t);
    this.owned = [];
    this.entries = [];
  }
}

export type { Shape };
