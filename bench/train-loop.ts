// Wall time of fine-tuning steps through the real loop (finetune: batch draws, loss read, finite check), per step,
// for a tiny UNet where a runtime's fixed cost per step (Deno's map polling) shows:
//   node dist/bench/train-loop.js [S] [batch] [iterations]
//   deno run -A dist/bench/train-loop.js [S] [batch] [iterations]
// Prints the adapter, the mean ms per step over the timed run (after a 3-step warm-up) and the losses' sum (the
// same bits in every runtime).

import { Runtime } from '../src/runtime/runtime.ts';
import { GpuBackend } from '../src/ops/webgpu.ts';
import { describeAdapter } from '../src/runtime/device.ts';
import { UNet, tinyUNet } from '../src/model/unet.ts';
import { finetune, PAPER_FINETUNE } from '../src/train/finetune.ts';
import { syntheticBatch } from '../src/data/synthetic-batch.ts';
import { sliceGeometry } from '../src/data/preprocess.ts';
import type { PreparedVolume } from '../src/data/pipeline.ts';

const args = ((globalThis as any).Deno?.args ?? (globalThis as any).process.argv.slice(2)).map(Number);
const [S = 32, batch = 2, iterations = 20] = args;

function volume(nz: number): PreparedVolume {
  const { x, y } = syntheticBatch(nz, S, 3, 1);
  const labels = new Float32Array(nz * S * S);
  for (let p = 0; p < labels.length; p++) labels[p] = y[p * 3 + 1] ? 1 : y[p * 3 + 2] ? 2 : 0;
  const none = null as unknown;
  return {
    name: 'bench',
    slices: x,
    labels,
    nz,
    nativeLabels: labels,
    geometry: sliceGeometry(S, S, 1, 1, 1, S, S),
    back: none as PreparedVolume['back'],
    original: none as PreparedVolume['original'],
    workingSpacing: [1, 1, 1],
  };
}

const rt = await Runtime.create(),
  be = new GpuBackend(rt);
const o = { ...PAPER_FINETUNE, batch, valEvery: 1e9, augment: { ...PAPER_FINETUNE.augment, elastic: false } };
const vols = [volume(8)];
await finetune(new UNet(be, tinyUNet(3), 1), vols, [], { ...o, iterations: 3 }); // pipelines, pool
const model = new UNet(be, tinyUNet(3), 1);
const t0 = performance.now();
const r = await finetune(model, vols, [], { ...o, iterations });
const ms = (performance.now() - t0) / iterations;
const runtime = (globalThis as any).Deno ? 'deno' : 'node';
console.log(
  `${runtime} ${describeAdapter(rt.gpu.info)}: ${S}² batch ${batch}, ${iterations} steps: ${ms.toFixed(2)} ms/step, ` +
    `loss sum ${r.losses.reduce((a, b) => a + b, 0)}`,
);
rt.destroy();
