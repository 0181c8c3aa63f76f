// Browser runner (Node side): serves dist/, opens test/browser.html in headless Chromium, prints each
// case as it finishes, and fails when any case fails.
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveDirectory } from '../src/util/static-server.ts';
import { launchChromium } from '../src/util/chromium.ts';

const dist = fileURLToPath(new URL('..', import.meta.url));
const { server, url } = await serveDirectory(dist);
const browser = await launchChromium();
let code = 1;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(m.text()));
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) console.log(`${r.status()}: ${r.url()}`); });
  const grep = process.argv[2] ? `?grep=${encodeURIComponent(process.argv[2])}` : '';
  await page.goto(`${url}/test/browser.html${grep}`);
  await page.waitForFunction(() => (globalThis as any).__glocalTests, null, { timeout: 0, polling: 500 });
  const res: any = await page.evaluate(() => (globalThis as any).__glocalTests);
  if (res.fatal) console.log(`fatal: ${res.fatal}`);
  const failed = res.results.filter((r: any) => !r.ok);
  console.log(`# chromium (${res.adapter}): ${res.results.length - failed.length} passed, ${failed.length} failed`);
  const out = new URL('../test-results/', import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL('chromium.json.tmp', out), JSON.stringify({ runtime: 'chromium', adapter: res.adapter, report: res.report, results: res.results }, null, 1));
  renameSync(new URL('chromium.json.tmp', out), new URL('chromium.json', out));
  code = res.fatal || failed.length || res.results.length === 0 ? 1 : 0;
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
