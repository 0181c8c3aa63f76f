// Checkpoints: safetensors round trip, shape checks, and a resumed run reaching bitwise the same weights.
import { type TestCase, assert, assertBitwise } from '../harness.ts';
import { UNet, tinyUNet } from '../../src/model/unet.ts';
import { SegmentationTrainer } from '../../src/train/segmentation.ts';
import { saveParams, loadParams, decodeSafetensors, CheckpointError } from '../../src/train/checkpoint.ts';
import { tinyBatch } from './network.ts';
import { syntheticBatch } from '../../src/data/synthetic-batch.ts';
import { sliceGeometry } from '../../src/data/preprocess.ts';
import { finetune, PAPER_FINETUNE, type FinetuneOptions, type Progress } from '../../src/train/finetune.ts';
import type { Backend } from '../../src/ops/backend.ts';
import type { PreparedVolume } from '../../src/data/pipeline.ts';

export const checkpointCases: TestCase[] = [
  {
    name: 'checkpoint: a run resumed from a checkpoint reaches bitwise the same weights as an uninterrupted one',
    async run(env) {
      const { x, y } = tinyBatch(2, 16);
      const xs = env.gpu.fromHost(x, [2, 16, 16, 1]),
        ys = env.gpu.fromHost(y, [2, 16, 16, 3]);
      const a = new UNet(env.gpu, tinyUNet(3), 7);
      const ta = new SegmentationTrainer(a);
      for (let i = 0; i < 3; i++) await ta.step(xs, ys);
      const bytes = await saveParams(a.params, {
        stage: 'supervised',
        iteration: 3,
        bestValDice: null,
        config: { tiny: true },
        state: null,
      });
      for (let i = 0; i < 2; i++) await ta.step(xs, ys);
      // a model started from another seed, then loaded: every weight, moment and moving average comes from the file
      const b = new UNet(env.gpu, tinyUNet(3), 99);
      const meta = loadParams(b.params, bytes, 'resume-test.safetensors');
      assert(meta.iteration === 3 && meta.adamStep === 3, `metadata ${JSON.stringify(meta)}`);
      const tb = new SegmentationTrainer(b);
      for (let i = 0; i < 2; i++) await tb.step(xs, ys);
      const [wa, wb] = [
        await env.rt.read(...a.params.slots.map((s) => s.v.value)),
        await env.rt.read(...b.params.slots.map((s) => s.v.value)),
      ];
      wa.forEach((w, i) => assertBitwise(a.params.slots[i].name, wb[i], w));
      const ma = await env.rt.read(...a.params.batchNorms.map((s) => s.state.movingVar));
      const mb = await env.rt.read(...b.params.batchNorms.map((s) => s.state.movingVar));
      ma.forEach((w, i) => assertBitwise(`${a.params.batchNorms[i].name} moving variance`, mb[i], w));
      xs.release();
      ys.release();
    },
  },
  {
    name: 'checkpoint: safetensors layout, and a checkpoint of another architecture is refused by name',
    async run(env) {
      const a = new UNet(env.ref, tinyUNet(3), 1);
      const bytes = await saveParams(a.params, {
        stage: 'supervised',
        iteration: 0,
        bestValDice: null,
        config: {},
        state: null,
      });
      const { tensors, meta } = decodeSafetensors(bytes, 'x');
      assert(
        tensors.has('enc1_1/w') && tensors.get('enc1_1/w')!.shape.join() === '3,3,1,8',
        'weights stored by name and shape',
      );
      assert(JSON.parse(meta.glocal).format === 'glocal-checkpoint', 'metadata present');
      const other = new UNet(env.ref, { ...tinyUNet(4) }, 1);
      let err: unknown;
      try {
        loadParams(other.params, bytes, 'model.safetensors');
      } catch (e) {
        err = e;
      }
      assert(err instanceof CheckpointError, `expected a CheckpointError, got ${err}`);
      assert(
        /model\.safetensors: tensor logits\/w has shape \[3,3,8,3\], the model needs \[3,3,8,4\]/.test(
          (err as Error).message,
        ),
        (err as Error).message,
      );
      let err2: unknown;
      try {
        loadParams(other.params, bytes.subarray(0, 100), 'cut.safetensors');
      } catch (e) {
        err2 = e;
      }
      assert(
        err2 instanceof CheckpointError && /cut\.safetensors/.test((err2 as Error).message),
        `truncated file: ${err2}`,
      );
    },
  },
];

/** A small labeled "volume" already at network size, for loop tests without NIfTI or preprocessing. */
export function preparedFromBatch(name: string, S: number, nz: number, seed: number): PreparedVolume {
  const { x, y } = syntheticBatch(nz, S, 3, seed);
  const labels = new Float32Array(nz * S * S);
  for (let p = 0; p < labels.length; p++) labels[p] = y[p * 3 + 1] ? 1 : y[p * 3 + 2] ? 2 : 0;
  return {
    name,
    slices: x,
    labels,
    nz,
    nativeLabels: labels,
    geometry: sliceGeometry(S, S, 1, 1, 1, S, S),
    back: null as unknown as PreparedVolume['back'],
    original: null as unknown as PreparedVolume['original'],
    workingSpacing: [1, 1, 1],
  };
}

/**
 * Fine-tunes the tiny UNet (seed 7) for 6 iterations, saving a checkpoint every 3 and the best model on validation;
 * then a model from another seed (99) resumed from iteration 3's checkpoint runs the rest. Both should end with the
 * same weights.
 */
async function finetuneStoppedAndResumed<T>(be: Backend<T>, onProgress: (p: Progress) => void = () => {}) {
  const S = 16,
    vols = [preparedFromBatch('a', S, 3, 1), preparedFromBatch('b', S, 3, 2)],
    val = [preparedFromBatch('v', S, 2, 3)];
  const o: FinetuneOptions = { ...PAPER_FINETUNE, iterations: 6, batch: 4, valEvery: 2, seed: 5 };
  const a = new UNet(be, tinyUNet(3), 7),
    saved = new Map<number, Uint8Array>();
  let best: Uint8Array | undefined;
  const run = await finetune(a, vols, val, o, onProgress, {
    every: 3,
    save: async (b, it) => {
      saved.set(it, b);
    },
    saveBest: async (b) => {
      if (saved.size < 1) best = b;
    },
  });
  const b = new UNet(be, tinyUNet(3), 99);
  await finetune(b, vols, val, o, () => {}, {
    every: 3,
    save: async () => {},
    resume: { bytes: saved.get(3)!, source: 'iteration-3', best },
  });
  return { a, b, run };
}

checkpointCases.push({
  name: 'checkpoint: fine-tuning (sampler, augmentation RNG, Adam, validation) stopped and resumed gives the same weights bit for bit',
  async run(env) {
    const { a, b } = await finetuneStoppedAndResumed(env.gpu);
    const [wa, wb] = [
      await env.rt.read(...a.params.slots.map((s) => s.v.value)),
      await env.rt.read(...b.params.slots.map((s) => s.v.value)),
    ];
    wa.forEach((w, i) => assertBitwise(a.params.slots[i].name, wb[i], w));
  },
});

checkpointCases.push({
  name: 'wasm: fine-tuning the tiny UNet (sampler, augmentation, Adam, validation) on the wasm backend, stopped and resumed, gives the same weights bit for bit',
  async run(env) {
    const dice: number[] = [];
    const { a, b, run } = await finetuneStoppedAndResumed(env.wasm, (p) => {
      if (p.valDice !== undefined) dice.push(p.valDice);
    });
    assert(run.losses.length === 6 && run.losses.every(Number.isFinite), `losses ${run.losses}`);
    assert(dice.length === 3 && dice.every((d) => d >= 0 && d <= 1), `validation Dice ${dice}`);
    for (const [i, s] of a.params.slots.entries()) {
      assertBitwise(
        s.name,
        Float32Array.from(await env.wasm.toHost(b.params.slots[i].v.value)),
        Float32Array.from(await env.wasm.toHost(s.v.value)),
      );
    }
  },
});
