// The AssemblyScript preprocessing module against TypeScript references (same .wasm in every runtime).
import { type TestCase, assert, assertClose } from '../harness.ts';
import { normalizePercentiles, preprocessModule } from '../../src/wasm/preprocess.ts';
import { Rng } from '../../src/util/random.ts';

/** numpy's default percentile: linear interpolation between the closest ranks of the sorted values. */
function percentileRef(a: Float32Array, q: number): number {
  const s = Float64Array.from(a).sort();
  const pos = (q / 100) * (s.length - 1), k = Math.floor(pos);
  return k + 1 < s.length ? s[k] + (s[k + 1] - s[k]) * (pos - k) : s[k];
}

export const preprocessCases: TestCase[] = [
  {
    name: 'wasm preprocessing: percentiles and p1/p99 normalisation match the TypeScript reference',
    async run() {
      const m = await preprocessModule();
      assert(typeof m.percentile === 'function', 'the module exports percentile');
      const rng = new Rng(5);
      for (const n of [1, 2, 7, 1000, 40_000]) {
        // a skewed distribution with ties, like MR intensities
        const a = new Float32Array(n).map(() => Math.floor(Math.exp(3 * rng.next()) * 100) / 10);
        if (n > 1) a[n - 1] = 1e4; // an outlier the percentiles must ignore
        for (const q of [0, 1, 37.5, 99, 100]) {
          m.ensureMemory(8 * n + 16);
          new Float32Array(m.memory.buffer, 0, n).set(a);
          const got = m.percentile(0, 4 * n, n, q), want = percentileRef(a, q);
          assert(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `n=${n} q=${q}: ${got} vs ${want}`);
        }
        if (n < 7) continue;
        const { out, p1, p99 } = await normalizePercentiles(a);
        const r1 = percentileRef(a, 1), r99 = percentileRef(a, 99);
        assertClose(`normalised n=${n}`, out, Array.from(a, (v) => (v - r1) / (r99 - r1)), 1e-6);
        assert(p1 === r1 && p99 === r99, `n=${n}: percentiles ${p1}, ${p99} vs ${r1}, ${r99}`);
        if (n >= 1000) assert(Math.max(...out) > 1.5, 'values above p99 are kept (no clipping)');
      }
    },
  },
  {
    name: 'wasm preprocessing: a constant volume is refused with a clear message',
    async run() {
      let msg = '';
      try { await normalizePercentiles(new Float32Array(100).fill(3)); } catch (e) { msg = (e as Error).message; }
      assert(/constant/.test(msg), `expected a 'constant volume' error, got '${msg}'`);
    },
  },
];
