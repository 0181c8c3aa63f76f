// The worker in a bundle (issue 28 item 7): an integrator's page, test/package/page.js, bundled in the consumer
// folder (only the packed tarball installed) by esbuild and by Vite. esbuild leaves
// `new URL('./worker.js', import.meta.url)` to the bundle's URL, so the package's worker.js is copied beside it as
// README says; Vite emits the worker file itself. Each page, served on localhost, must train and segment in headless
// Chromium; a page that hangs fails after PAGE_TIMEOUT_MS.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { build as esbuild } from 'esbuild';
import { build as vite } from 'vite';
import { chromium } from 'playwright-core';

const PAGE_TIMEOUT_MS = 180_000;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript' };
const PAGE_HTML = '<!doctype html><script type="module" src="./page.js"></script>';

/** esbuild: the page's bundle, index.html, and worker.js copied from the package, in `<project>/esbuild`. */
async function bundleWithEsbuild(project) {
  const out = join(project, 'esbuild');
  mkdirSync(out, { recursive: true });
  await esbuild({ entryPoints: [join(project, 'page.js')], bundle: true, format: 'esm', platform: 'browser',
    outfile: join(out, 'page.js'), absWorkingDir: project, logLevel: 'warning' });
  copyFileSync(join(project, 'node_modules/@glocal-seg/glocal/dist/worker.js'), join(out, 'worker.js'));
  writeFileSync(join(out, 'index.html'), PAGE_HTML);
  return out;
}

/** Vite (production build): index.html and page.js as a Vite project's sources, its output in `<project>/vite`. */
async function bundleWithVite(project) {
  writeFileSync(join(project, 'index.html'), PAGE_HTML);
  const out = join(project, 'vite');
  // the size warning is about the integrator's chunking, not about the worker
  const build = { outDir: out, chunkSizeWarningLimit: 1e5 };
  await vite({ root: project, logLevel: 'error', configFile: false, build });
  return out;
}

/** Serves `dir` on a free localhost port (paths outside it are 404). */
async function serve(dir) {
  const server = createServer((req, res) => {
    const path = normalize(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    let body;
    try {
      if (path.startsWith('..')) throw new Error('outside');
      body = readFileSync(join(dir, path));
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** Opens the built page in `browser` and checks what it reports: 4 iterations, a label map on its input's grid. */
async function runPage(browser, dir, bundler) {
  const { server, url } = await serve(dir);
  const page = await browser.newPage();
  try {
    page.on('pageerror', (e) => console.log(`${bundler} page error: ${e.message}`));
    const t0 = Date.now();
    await page.goto(`${url}/index.html`);
    await page.waitForFunction(() => globalThis.__pageResult, null, { timeout: PAGE_TIMEOUT_MS, polling: 250 });
    const r = await page.evaluate(() => globalThis.__pageResult);
    if (r.error) throw new Error(`the ${bundler}-bundled page failed: ${r.error}`);
    const sameGrid = r.dims.every((d, i) => d === r.inputDims[i]);
    if (r.iteration !== 4 || !sameGrid || !(r.maxLabel >= 0 && r.maxLabel <= 3)) {
      throw new Error(`the ${bundler}-bundled page: unexpected result ${JSON.stringify(r)}`);
    }
    console.log(`bundle (${bundler}): the page trained ${r.iteration} iterations and segmented a volume ` +
      `(${r.dims.join('×')}, its input's grid) in Chromium on ${r.adapter}, ` +
      `${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await page.close();
    server.close();
  }
}

export async function checkBundledPages(project) {
  copyFileSync(resolve('test/package/page.js'), join(project, 'page.js'));
  const built = [['esbuild', await bundleWithEsbuild(project)], ['Vite', await bundleWithVite(project)]];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'] });
  try {
    for (const [bundler, dir] of built) await runPage(browser, dir, bundler);
  } finally {
    await browser.close();
  }
}
