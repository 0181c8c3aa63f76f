// Browser runner (Node side): serves dist/, opens test/browser.html in headless Chromium, prints each
// case as it finishes, and fails when any case fails.
//
// The cases are split over SHARDS browsers, each with its own GPU process: SwiftShader compiles a pipeline on one
// thread, and compiling is most of this suite's time, so one browser leaves the second core idle. Case i runs in
// shard i mod SHARDS (browser.ts); every case runs exactly once, and the count is checked below.
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveDirectory } from '../src/util/static-server.ts';
import { launchChromium } from '../src/util/chromium.ts';

const SHARDS = Number(process.env.GLOCAL_BROWSER_SHARDS ?? 2);
if (!Number.isInteger(SHARDS) || SHARDS < 1)
  throw new Error(`GLOCAL_BROWSER_SHARDS must be a whole number >= 1, not '${process.env.GLOCAL_BROWSER_SHARDS}'`);
const dist = fileURLToPath(new URL('..', import.meta.url));
const { server, url } = await serveDirectory(dist);
const grep = process.argv[2];
type ShardResult = {
  adapter: string;
  results: { name: string; ok: boolean; error?: string }[];
  report?: Record<string, unknown>;
  fatal?: string;
  total: number;
};

async function runShard(shard: number): Promise<ShardResult> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const tag = SHARDS > 1 ? `[${shard + 1}/${SHARDS}] ` : '';
    page.on('console', (m) => console.log(tag + m.text()));
    page.on('pageerror', (e) => console.log(`${tag}page error: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) console.log(`${tag}${r.status()}: ${r.url()}`);
    });
    const q = new URLSearchParams({ shard: String(shard), shards: String(SHARDS), ...(grep ? { grep } : {}) });
    await page.goto(`${url}/test/browser.html?${q}`);
    await page.waitForFunction(() => (globalThis as any).__glocalTests, null, { timeout: 0, polling: 500 });
    return await page.evaluate(() => (globalThis as any).__glocalTests);
  } finally {
    await browser.close();
  }
}

let code = 1;
try {
  const shards = await Promise.all(Array.from({ length: SHARDS }, (_, i) => runShard(i)));
  const results = shards.flatMap((s) => s.results);
  const report = Object.assign({}, ...shards.map((s) => s.report ?? {}));
  const adapter = shards[0].adapter;
  for (const s of shards) if (s.fatal) console.log(`fatal: ${s.fatal}`);
  // a shard that died early would otherwise pass with fewer cases
  const missing = shards[0].total - results.length;
  if (missing) console.log(`not ok - ${missing} of ${shards[0].total} selected cases did not report`);
  const failed = results.filter((r) => !r.ok);
  console.log(
    `# chromium (${adapter}): ${results.length - failed.length} passed, ${failed.length} failed, in ${SHARDS} browser(s)`,
  );
  const out = new URL('../test-results/', import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(
    new URL('chromium.json.tmp', out),
    JSON.stringify({ runtime: 'chromium', adapter, report, results }, null, 1),
  );
  renameSync(new URL('chromium.json.tmp', out), new URL('chromium.json', out));
  code = shards.some((s) => s.fatal) || missing || failed.length || results.length === 0 ? 1 : 0;
} finally {
  server.close();
}
process.exit(code);
