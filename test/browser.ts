// Browser runner (page side): runs its share of the cases in order (?shard=i&shards=n: case k when k mod n = i,
// after ?grep) and leaves the results, and how many cases were selected in all shards, on window.__glocalTests.
import { allCases } from './suites/index.ts';
import { createTestEnv } from './harness.ts';

const w = globalThis as any;
(async () => {
  const results: { name: string; ok: boolean; ms: number; error?: string }[] = [];
  let adapter = '';
  const q = new URLSearchParams(location.search);
  const only = q.get('grep'),
    shard = Number(q.get('shard') ?? 0),
    shards = Number(q.get('shards') ?? 1);
  const selected = allCases.filter((c) => !only || c.name.includes(only));
  try {
    const env = await createTestEnv();
    adapter = env.adapter;
    console.log(`# adapter: ${adapter}`);
    for (const [k, c] of selected.entries()) {
      if (k % shards !== shard) continue;
      const t0 = performance.now();
      try {
        await c.run(env);
        results.push({ name: c.name, ok: true, ms: performance.now() - t0 });
      } catch (e) {
        results.push({ name: c.name, ok: false, ms: performance.now() - t0, error: String((e as Error)?.stack ?? e) });
      }
      const r = results[results.length - 1];
      console.log(`${r.ok ? 'ok' : 'not ok'} - ${r.name} (${r.ms.toFixed(0)} ms)${r.error ? `\n  ${r.error}` : ''}`);
    }
    w.__glocalTests = { adapter, results, report: env.report, total: selected.length };
  } catch (e) {
    w.__glocalTests = { adapter, results, total: selected.length, fatal: String((e as Error)?.stack ?? e) };
  }
})();
