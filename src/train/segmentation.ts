// Supervised training of a segmentation network: one step = forward, loss, backward, Adam.
// On the GPU backend a step is recorded and submitted in pieces (Runtime.submitEvery); reading its loss waits for it,
// so the training loop records the next step first (SegmentationTrainer.start, iterate's Started).

import type { Backend } from '../ops/backend.ts';
import { Tape, Var } from '../autodiff/tape.ts';
import * as op from '../autodiff/ops.ts';
import type { UNet } from '../model/unet.ts';

export type SegLoss = { kind: 'dice' } | { kind: 'cross-entropy'; classWeights: number[] };

/** Class weights of the paper's weighted cross-entropy (paper-spec §5.3). */
export function paperClassWeights(k: number): number[] {
  if (k === 3) return [0.1, 0.45, 0.45];
  if (k === 4) return [0.1, 0.3, 0.3, 0.3];
  if (k === 8) return [0.09, ...Array(7).fill(0.13)];
  return Array(k).fill(1 / k);
}

export class SegmentationTrainer<T> {
  private weights: T | null = null;
  constructor(
    readonly model: UNet<T>,
    readonly loss: SegLoss = { kind: 'dice' },
  ) {
    if (loss.kind === 'cross-entropy') this.weights = model.be.fromHost(loss.classWeights, [loss.classWeights.length]);
  }

  get be(): Backend<T> {
    return this.model.be;
  }

  /** Forward + loss (+ backward and Adam when `update`); returns the loss value before the update. */
  async step(images: T, onehot: T, update = true): Promise<number> {
    return this.start(images, onehot, update);
  }

  /**
   * `step` recorded (and on the GPU submitted) by the time it returns, its loss still being read: the next step
   * can be recorded while this one runs. The inputs may be released at once.
   */
  start(images: T, onehot: T, update = true): Promise<number> {
    const tp = new Tape(this.be, update);
    try {
      const loss = this.lossOf(tp, images, onehot);
      if (update) {
        tp.backward(loss);
        this.model.params.adamStep();
      }
      return this.be.toHost(loss.value).then((v) => v[0]);
    } finally {
      tp.dispose(); // toHost has taken its copy (the GPU's is queued): the step's tensors can go back to the pool
    }
  }

  /** Forward and backward only: leaves the gradients on the parameters (for gradient checks). */
  async gradients(images: T, onehot: T): Promise<number> {
    const tp = new Tape(this.be);
    const loss = this.lossOf(tp, images, onehot);
    tp.backward(loss);
    const value = (await this.be.toHost(loss.value))[0];
    tp.dispose();
    return value;
  }

  /** The forward pass in training mode and the configured loss, recorded on `tp`. */
  private lossOf(tp: Tape<T>, images: T, onehot: T): Var<T> {
    const logits = this.model.forward(tp, new Var(images, false), true);
    return this.loss.kind === 'dice'
      ? op.softmaxDiceLoss(tp, logits, onehot)
      : op.softmaxCrossEntropy(tp, logits, onehot, this.weights!);
  }
}
