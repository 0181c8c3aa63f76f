// Browser runner (page side): runs every case in order and leaves the results on window.__glocalTests.
import { allCases } from './suites/index.ts';
import { createTestEnv } from './harness.ts';

const w = globalThis as any;
(async () => {
  const results: { name: string; ok: boolean; ms: number; error?: string }[] = [];
  let adapter = '';
  try {
    const env = await createTestEnv();
    adapter = env.adapter;
    console.log(`# adapter: ${adapter}`);
    const only = new URLSearchParams(location.search).get('grep');
    for (const c of allCases) {
      if (only && !c.name.includes(only)) continue;
      const t0 = performance.now();
      try {
        await c.run(env);
        results.push({ name: c.name, ok: true, ms: performance.now() - t0 });
      } catch (e) {
        results.push({ name: c.name, ok: false, ms: performance.now() - t0, error: String((e as Error)?.stack ?? e) });
      }
      const r = results[results.length - 1];
      console.log(`${r.ok ? 'ok' : 'not ok'} - ${r.name} (${r.ms.toFixed(0)} ms)${r.error ? '\n  ' + r.error : ''}`);
    }
    w.__glocalTests = { adapter, results, report: env.report };
  } catch (e) {
    w.__glocalTests = { adapter, results, fatal: String((e as Error)?.stack ?? e) };
  }
})();
