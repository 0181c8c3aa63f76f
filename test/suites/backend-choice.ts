// --backend: 'wasm' is the wasm backend, 'auto' takes a hardware WebGPU adapter and never a software one, and the
// choice is said in the description every result records. Node and Deno (the CLI's runtimes).

import { type TestCase, assert } from '../harness.ts';
import { openBackend } from '../../src/ops/open-backend.ts';
import { isSoftwareAdapter } from '../../src/runtime/device.ts';
import { chooseBudget, plateauIteration, smoothed } from '../../src/experiment/convergence.ts';

const choiceCase: TestCase = {
  name: 'backend choice: wasm is wasm, auto never takes a software adapter, each says which it is',
  async run(env) {
    const wasm = await openBackend('wasm', { threads: 1 });
    try {
      assert(
        wasm.kind === 'wasm' &&
          wasm.rt === null &&
          wasm.description === 'wasm SIMD, 1 thread, 3×3 by Winograd from 4 channels, else GEMM',
        `wasm: ${wasm.description}`,
      );
    } finally {
      wasm.close();
    }
    const auto = await openBackend('auto', { threads: 1 }),
      software = isSoftwareAdapter(env.rt.gpu.info);
    try {
      assert(
        software
          ? auto.kind === 'wasm' && auto.description.includes('auto: the adapter is software')
          : auto.kind === 'webgpu',
        `auto on ${env.adapter}: ${auto.kind} (${auto.description})`,
      );
    } finally {
      auto.close();
    }
    const gpu = await openBackend('webgpu');
    try {
      assert(gpu.kind === 'webgpu' && gpu.description.startsWith('webgpu, '), `webgpu: ${gpu.description}`);
    } finally {
      gpu.close();
    }
  },
};

const budgetCase: TestCase = {
  name: 'convergence: the plateau is the first validation within 0.01 of the best (of the raw curve, or of its moving mean), the budget the later plateau, held only after 1.5× of it; a late single spike does not move the smoothed plateau',
  async run() {
    const curve = (ds: number[]) => ds.map((valDice, i) => ({ iteration: 100 * (i + 1), valDice }));
    const flat = curve([0.1, 0.5, 0.795, 0.8, 0.79, 0.8]),
      late = curve([0.1, 0.3, 0.5, 0.6, 0.7, 0.75]);
    assert(plateauIteration(flat) === 300, `plateau of a curve that levels at 300: ${plateauIteration(flat)}`);
    assert(plateauIteration(late) === 600, `a curve rising to the end plateaus at its end: ${plateauIteration(late)}`);
    const named = (points: typeof flat) => ({ name: 'c', volumes: [], points });
    const held = chooseBudget([named(flat), named(curve([0.2, 0.6, 0.7, 0.7, 0.7, 0.7]))], 600, 1);
    assert(held.budget === 300 && held.holds, `budget 300 over a 600-iteration run holds: ${JSON.stringify(held)}`);
    const rising = chooseBudget([named(flat), named(late)], 600, 1);
    assert(rising.budget === 600 && !rising.holds, `a curve still rising: no budget holds: ${JSON.stringify(rising)}`);
    // a curve swinging 0.68/0.76 from 500 on, with one spike of 0.85 at 1 900 (+0.09 over its neighbours' level,
    // as a 2-volume validation gives): the raw plateau jumps to the spike, the mean of 10 levels where the curve does
    const level = [0.2, 0.4, 0.55, 0.65, ...Array.from({ length: 26 }, (_, i) => (i % 2 ? 0.68 : 0.76))];
    level[18] = 0.85;
    const noisy = curve(level),
      m = smoothed(noisy, 3);
    assert(m[0].valDice === 0.2 && Math.abs(m[2].valDice - (0.2 + 0.4 + 0.55) / 3) < 1e-12, 'a trailing mean');
    const rawB = chooseBudget([named(noisy)], 2800, 1),
      meanB = chooseBudget([named(noisy)], 2800, 10);
    assert(rawB.budget === 1900 && !rawB.holds, `raw: the spike at 1 900 is the plateau: ${JSON.stringify(rawB)}`);
    assert(meanB.budget === 1400 && meanB.holds, `mean of 10: the plateau is at 1 400: ${JSON.stringify(meanB)}`);
  },
};

export const backendChoiceFileCases: TestCase[] = [choiceCase];
export const budgetCases: TestCase[] = [budgetCase];
