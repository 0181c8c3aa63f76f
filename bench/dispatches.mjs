// Dispatches of one train step (Dice + Adam) of the paper UNet, by kernel, with a GPU's kernel choices (every
// conv on the GEMM) on whatever adapter runs it: what a GPU would record, counted without one.
//   node bench/dispatches.mjs [--size 192] [--batch 20]       (size: a multiple of 32; after npm run build)
// Slow on a software adapter: one step at 192² b20.
import { parseArgs } from 'node:util';
import { Runtime, GpuBackend, UNet, paperUNet, SegmentationTrainer } from '../dist/index.js';

const { values } = parseArgs({ options: { size: { type: 'string', default: '192' }, batch: { type: 'string', default: '20' } } });
const S = Number(values.size), B = Number(values.batch);
const rt = await Runtime.create();
const be = new GpuBackend(rt);
be.convChoice = { directForward: () => false, directInputGrad: () => false, directWeightGrad: () => false };
const model = new UNet(be, paperUNet(4, 1), 1);
const trainer = new SegmentationTrainer(model);
const x = be.full([B, S, S, 1], 0.5), y = be.full([B, S, S, 4], 0.25);
await trainer.step(x, y); // Adam's moments exist from here on; the counted step is a steady-state one
const byKernel = new Map();
const dispatch = rt.dispatch.bind(rt);
rt.dispatch = (name, ...rest) => { byKernel.set(name, (byKernel.get(name) ?? 0) + 1); return dispatch(name, ...rest); };
await trainer.step(x, y);
const rows = [...byKernel].sort((a, b) => b[1] - a[1]);
console.log(`one train step, paper UNet ${S}² b${B}, convs on the GEMM: ${rows.reduce((a, r) => a + r[1], 0)} dispatches`);
for (const [k, n] of rows) console.log(`${String(n).padStart(5)}  ${k}`);
rt.destroy();
