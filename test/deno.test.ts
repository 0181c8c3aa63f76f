// Deno runner: deno test dist/test/deno.test.js (WebGPU from navigator.gpu, wgpu).
import { allCases, fileCases } from './suites/index.ts';
import { createTestEnv, type TestEnv } from './harness.ts';

declare const Deno: any;
let env: TestEnv | undefined;
const getEnv = async () => {
  if (!env) {
    env = await createTestEnv();
    console.log(`# adapter: ${env.adapter}`);
  }
  return env;
};
const opts = { sanitizeOps: false, sanitizeResources: false };

// how many cases passed, in the report (scripts/test-all.mjs fails a Deno run on any nonzero exit, crash or not)
const cases = [...allCases, ...fileCases].filter((c) => !c.nodeOnly);
let passed = 0;
// a case that spawns programs runs in Node only: listed here as ignored, never counted as passed
for (const c of [...allCases, ...fileCases].filter((c) => c.nodeOnly))
  Deno.test({ name: `${c.name} (Node only: spawns a program)`, ignore: true, fn: () => {} });
for (const c of cases)
  Deno.test({
    name: c.name,
    ...opts,
    fn: async () => {
      await c.run(await getEnv());
      passed++;
    },
  });

Deno.test({
  name: 'write the report',
  ...opts,
  fn: async () => {
    const e = await getEnv();
    const dir = new URL('../test-results/', import.meta.url);
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      new URL('deno.json.tmp', dir),
      JSON.stringify({ runtime: 'deno', adapter: e.adapter, report: e.report, cases: cases.length, passed }, null, 1),
    );
    await Deno.rename(new URL('deno.json.tmp', dir), new URL('deno.json', dir));
    e.rt.destroy();
  },
});
