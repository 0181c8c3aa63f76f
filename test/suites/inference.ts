// Inference at batch: the GPU's label map packed to bytes before the readback equals its f32 argmax, and
// batches overlapped (the next one uploaded and recorded before the last is read) give what one batch gives.

import { type TestCase, assert, assertBitwise } from '../harness.ts';
import { UNet, tinyUNet } from '../../src/model/unet.ts';
import { Tape, Var } from '../../src/autodiff/tape.ts';
import { overlapBatches, predictLabels, predictVolume } from '../../src/train/finetune.ts';
import { pseudoLabels } from '../../src/experiment/experiment.ts';
import { preparedFromBatch } from './checkpoint.ts';
import { Rng } from '../../src/util/random.ts';

// rows 1, 3, 70, 1089, 192, 8320 (≡ 1, 3, 2, 1, 0, 0 mod 4: every tail of a packed word), and 256 classes
const packShapes = [
  [1, 1, 1, 2],
  [1, 1, 3, 4],
  [2, 5, 7, 3],
  [1, 33, 33, 5],
  [3, 8, 8, 2],
  [2, 64, 65, 4],
  [1, 4, 5, 256],
];

const packCases: TestCase[] = packShapes.map((shape) => ({
  name: `inference: the GPU's labels packed to u8 equal its f32 argmax [${shape}]`,
  async run(env) {
    const rng = new Rng(shape.reduce((a, b) => a * 7 + b, 5)),
      n = shape.reduce((a, b) => a * b, 1),
      K = shape[3];
    // few classes: integer logits in a narrow range, many ties (both give them to the lowest class); 256: labels
    // up to 255, so the top byte of a word holds values ≥ 128
    const levels = K > 16 ? 1 << 20 : Math.min(K, 6),
      z = env.gpu.fromHost(
        Float32Array.from({ length: n }, () => rng.int(levels)),
        shape,
      );
    const unpacked = env.gpu.argmax(z),
      want = await env.gpu.toHost(unpacked),
      got = await env.gpu.argmaxU8(z);
    env.gpu.release(unpacked);
    env.gpu.release(z);
    assert(got.length === want.length, `${got.length} labels packed, ${want.length} unpacked`);
    const bad = want.findIndex((v, i) => got[i] !== v);
    assert(bad < 0, `label ${bad}: packed ${got[bad]}, unpacked ${want[bad]}`);
    assert(new Set(want).size > 1 || n === K, 'the labels should vary');
    assert(K < 256 || Math.max(...want) > 127, 'labels ≥ 128 should occur with 256 classes');
  },
}));

const overlapCase: TestCase = {
  name: 'inference: overlapped batches (the next recorded before the last is read) give the whole batch’s labels and probabilities',
  async run(env) {
    const S = 16,
      nz = 11,
      model = new UNet(env.gpu, tinyUNet(3), 5),
      v = preparedFromBatch('o', S, nz, 9);
    // one batch, nothing overlapped: the f32 argmax of the logits
    const x = env.gpu.fromHost(v.slices, [nz, S, S, 1]),
      tp = new Tape(env.gpu, false),
      argmax = env.gpu.argmax(model.forward(tp, new Var(x, false), false).value),
      want = await env.gpu.toHost(argmax);
    [argmax, x].forEach((t) => env.gpu.release(t));
    tp.dispose();
    const inThrees = new Float32Array(nz * S * S);
    await overlapBatches(
      nz,
      3,
      (z0, n) => {
        const xs = env.gpu.fromHost(v.slices.subarray(z0 * S * S, (z0 + n) * S * S), [n, S, S, 1]);
        const p = predictLabels(model, xs);
        env.gpu.release(xs);
        return p;
      },
      (labels, z0) => inThrees.set(labels, z0 * S * S),
    );
    assertBitwise('labels in batches of 3, overlapped', inThrees, want);
    assertBitwise('pseudo-labels in batches of 8, overlapped', await pseudoLabels(model, v), want);
    assert(new Set(want).size > 1, 'the labels should vary');
    assertBitwise(
      'probabilities in batches of 3 vs 11',
      await predictVolume(model, v, 3),
      await predictVolume(model, v, 11),
    );
  },
};

export const inferenceCases: TestCase[] = [...packCases, overlapCase];
