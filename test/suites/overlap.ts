// Fine-tuning on the GPU records step k+1 before it reads step k's loss (iterate's Started steps): the same
// losses, validation, checkpoints and weights as a run that reads every loss before going on, and a stop request
// still ends the loop after the step it arrived in.

import { type TestCase, assert, assertBitwise } from '../harness.ts';
import { UNet, tinyUNet } from '../../src/model/unet.ts';
import { finetune, PAPER_FINETUNE, type FinetuneOptions } from '../../src/train/finetune.ts';
import type { CheckpointHooks } from '../../src/train/iterate.ts';
import type { GpuTensor } from '../../src/runtime/runtime.ts';
import { preparedFromBatch } from './checkpoint.ts';

const S = 16,
  o: FinetuneOptions = { ...PAPER_FINETUNE, iterations: 7, batch: 2, valEvery: 3, seed: 4 },
  train = [preparedFromBatch('t', S, 4, 1)],
  val = [preparedFromBatch('v', S, 2, 2)];

export const overlapCases: TestCase[] = [
  {
    name: 'overlap: fine-tuning with the next step recorded before each loss is read gives the bits of a run that waits',
    async run(env) {
      const run = async (hooks: Omit<CheckpointHooks, 'save'>) => {
        const model = new UNet(env.gpu, tinyUNet(3), 3),
          saved = new Map<number, Uint8Array>(),
          recorded: number[] = [],
          t0 = env.rt.dispatchCount;
        const r = await finetune(model, train, val, o, () => void recorded.push(env.rt.dispatchCount - t0), {
          ...hooks,
          save: async (b, it) => void saved.set(it, b),
        });
        const weights = await env.rt.read(...(model.params.slots.map((s) => s.v.value) as GpuTensor[]));
        return { r, saved, recorded, weights: Float32Array.from(weights.flatMap((w) => Array.from(w))) };
      };
      const waits = await run({ every: 1 }), // every iteration checkpointed: nothing recorded ahead
        ahead = await run({ every: 5 });
      assert(
        ahead.recorded[0] > waits.recorded[0],
        `step 2 recorded before step 1's progress: ${ahead.recorded[0]} vs ${waits.recorded[0]} dispatches`,
      );
      assertBitwise('losses', Float32Array.from(ahead.r.losses), Float32Array.from(waits.r.losses));
      assert(ahead.r.best === waits.r.best && ahead.r.bestIteration === waits.r.bestIteration, 'best validation');
      for (const it of [5, 7]) assert(same(ahead.saved.get(it)!, waits.saved.get(it)!), `checkpoint ${it} differs`);
      assertBitwise('weights', ahead.weights, waits.weights);
      // a stop asked while step 3 runs (step 4 not yet started) ends the loop after step 3, with its checkpoint
      let asked = 0;
      const stopped = await run({ every: 5, stop: () => ++asked === 3 });
      assert(
        stopped.r.stopped && stopped.r.losses.length === 3 && [...stopped.saved.keys()].join() === '3',
        `stopped after ${stopped.r.losses.length}, saved ${[...stopped.saved.keys()]}`,
      );
      assert(same(stopped.saved.get(3)!, waits.saved.get(3)!), 'the stop checkpoint is the waiting run’s of step 3');
    },
  },
];

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);
