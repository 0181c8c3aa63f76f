// The model benchmark's Chromium side (bench/chromium.html, opened by bench/model.ts --chromium): glocal's train
// step and inference in the page, options from the query string, the result left on window.__glocalBench.

import { Runtime } from '../src/runtime/runtime.ts';
import { describeAdapter } from '../src/runtime/device.ts';
import { type GlocalBenchOptions, benchGlocal } from './glocal.ts';

const w = globalThis as any;
(async () => {
  try {
    const o: GlocalBenchOptions = JSON.parse(new URLSearchParams(location.search).get('options') ?? '');
    const rt = await Runtime.create();
    const adapter = describeAdapter(rt.gpu.info);
    console.log(`adapter: ${adapter}`);
    const result = await benchGlocal(rt, o);
    rt.destroy();
    w.__glocalBench = { adapter, result };
  } catch (e) {
    w.__glocalBench = { error: String((e as Error)?.stack ?? e) };
  }
})();
