// End-to-end test of the browser app (dist/app) in headless Chromium: tiny phantom volumes in through the file
// input (two with label maps, one without, which gets labels drawn with NiiVue's pen), pre-training and
// fine-tuning (on the labeled slices only, as a drawing is among the labels) for a few steps at 32 px, segmentation
// shown as a coloured NiiVue overlay (checked on screenshots before and after), the label map downloaded as
// .nii.gz on the input's grid, a reload that restores the volumes and the model from OPFS, a reload during a
// fine-tuning run that resumes it from its OPFS checkpoint, cancellation, and no request
// outside the app's own origin (nothing leaves the machine). For a clinician (issue 28, item 11): the browser check's
// notice, one-line hints for the jargon, a legend of the class names in the shared colours (src/viewers/colours.ts,
// also checked on the rendered overlay and ground truth), the opacity slider and toggles, the two loss panels, the
// progress bar and its time left moving, validation Dice on the held-out volume, and the buttons that start a run
// off while one runs. Screenshots of each moment: dist/test-results/app-*.png (test artefacts, not committed).
//   node dist/test/app-e2e.js          (after npm run build)

import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import { serveDirectory } from '../src/util/static-server.ts';
import { launchChromium } from '../src/util/chromium.ts';
import { generateSubject } from '../src/data/phantom.ts';
import { readNifti, writeNifti } from '../src/io/nifti.ts';
import { checkIdle, checkLoadedPage, checkRunning, classPixels } from './app-e2e-checks.ts';

const fail = (m: string): never => {
  throw new Error(`app e2e: ${m}`);
};
const dist = fileURLToPath(new URL('..', import.meta.url)),
  results = join(dist, 'test-results');
mkdirSync(results, { recursive: true });

// three phantom subjects: two labeled, one unlabeled
const tmp = mkdtempSync(join(tmpdir(), 'glocal-app-'));
const files: string[] = [];
const dims: number[][] = [];
for (let i = 0; i < 3; i++) {
  const s = generateSubject(11, i);
  files.push(join(tmp, `case${i}.nii.gz`));
  writeFileSync(files[files.length - 1], writeNifti(s.image, { datatype: 'float32', gzip: true }));
  dims.push(s.image.dims);
  if (i < 2) {
    files.push(join(tmp, `case${i}_gt.nii.gz`));
    writeFileSync(files[files.length - 1], writeNifti(s.label, { datatype: 'uint8', gzip: true }));
  }
}

/** Pixels of a PNG screenshot whose colour is far from grey (the overlay's colour map; the MRI itself is grey). */
function colouredPixels(png: Buffer): number {
  const img = decode(png),
    d = img.data,
    ch = img.channels;
  let n = 0;
  for (let p = 0; p < img.width * img.height; p++) {
    const [r, g, b] = [d[p * ch], d[p * ch + 1], d[p * ch + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }
  return n;
}

/** The app's default class names (the phantom's labels 1..3), background first. */
const CLASSES = ['background', 'RV', 'myocardium', 'LV'];

const { server, url } = await serveDirectory(join(dist, 'app'));
const browser = await launchChromium();
const t0 = Date.now();
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  // privacy: every request the app (and its worker) makes stays on its own origin
  const requests: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const statusText = () => page.locator('#status').textContent();
  const waitStatus = async (re: RegExp, what: string) => {
    await page.waitForFunction(
      (src) =>
        new RegExp(src).test(document.getElementById('status')!.textContent ?? '') ||
        /^error/.test(document.getElementById('status')!.textContent ?? ''),
      re.source,
      { timeout: 600_000, polling: 250 },
    );
    const s = (await statusText()) ?? '';
    if (!re.test(s)) fail(`${what}: ${s}`);
    console.log(`  ${s.split('\n')[0]}`);
  };
  const shot = async (name: string) => {
    await page.screenshot({ path: join(results, `${name}.png`) });
  };
  // the slider as a user moves it (Playwright cannot fill a range input)
  const setOpacity = (v: number) =>
    page.$eval(
      '#opacity',
      (el, v) => {
        (el as HTMLInputElement).value = String(v);
        el.dispatchEvent(new Event('input'));
      },
      v,
    );
  // the shown volume's ground truth, opaque: each class in its legend colour
  const checkTruth = async () => {
    await page.waitForSelector('body[data-overlays="1"]');
    await setOpacity(100);
    await page.waitForTimeout(500);
    const counts = classPixels(await page.locator('#viewer').screenshot(), CLASSES.length);
    await shot('app-truth');
    if (counts.slice(1).some((n) => n < 10)) fail(`ground truth: ${counts} pixels in the classes' colours`);
    console.log(`  ground truth shown: ${counts.slice(1).join(', ')} pixels in the colours of ${CLASSES.slice(1)}`);
    await setOpacity(60);
  };
  await page.goto(`${url}/`);
  await page.waitForSelector('body[data-ready]');
  await checkLoadedPage(page, CLASSES);
  await shot('app-load');
  for (const [id, v] of [
    ['size', '32'],
    ['spacing', '8'],
    ['width', '0.05'],
    ['pretrain-iters', '2'],
    ['finetune-iters', '4'],
    ['batch', '2'],
  ]) {
    await page.fill(`#${id}`, v);
  }
  await page.setInputFiles('#files', files);
  await page.waitForFunction(() => document.querySelectorAll('#volumes li').length === 3);
  const listed = await page.locator('#volumes').textContent();
  if (!/case0\.nii\.gz — labeled/.test(listed ?? '') || !/case2\.nii\.gz — unlabeled/.test(listed ?? ''))
    fail(`volume list: ${listed}`);

  // draw labels on the unlabeled volume (NiiVue pen, value 2) and use the drawing as its label map
  await page.locator('#volumes li', { hasText: 'case2.nii.gz' }).locator('button').click();
  await page.waitForTimeout(500);
  await page.selectOption('#pen', '2');
  await page.click('#draw');
  const box = (await page.locator('#viewer').boundingBox())!;
  // the axial view fills the lower left of NiiVue's multiplanar layout: stroke across its middle
  const [x0, y0] = [box.x + box.width * 0.15, box.y + box.height * 0.72];
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(x0 + i * box.width * 0.02, y0 + i * 2);
  await page.mouse.up();
  await page.click('#draw');
  await page.click('#use-drawing');
  await waitStatus(/is its label map/, 'drawing');
  if (!/case2\.nii\.gz — drawn labels/.test((await page.locator('#volumes').textContent()) ?? ''))
    fail('the drawn labels are not listed');
  const drawn = await page.evaluate(async () => {
    const dir = await (
      await (await navigator.storage.getDirectory()).getDirectoryHandle('glocal-app')
    ).getDirectoryHandle('labels');
    return Array.from(new Uint8Array(await (await (await dir.getFileHandle('case2.nii.gz')).getFile()).arrayBuffer()));
  });
  const drawnLabels = readNifti(Uint8Array.from(drawn), 'drawn labels (OPFS)');
  const painted = drawnLabels.data.filter((v) => v === 2).length;
  if (drawnLabels.dims.join() !== dims[2].join() || painted === 0)
    fail(`drawn label map ${drawnLabels.dims} with ${painted} voxels of pen value 2`);
  console.log(`  drawn label map kept in OPFS: ${painted} voxels of class 2 on the ${drawnLabels.dims.join('×')} grid`);
  await page.locator('#volumes li', { hasText: 'case0.nii.gz' }).locator('button').click();
  await page.waitForTimeout(500);
  await checkTruth();

  await page.click('#pretrain');
  await waitStatus(/pre-training done/, 'pre-training');
  // the second volume with labels from a file is held out by default, so that fine-tuning reports Dice
  const held = await page.inputValue('#validation');
  if (held !== 'case1.nii.gz') fail(`the validation volume is '${held}', not case1.nii.gz`);
  await page.click('#finetune');
  await waitStatus(/fine-tuning done \(\d+ iterations, best validation Dice \d\.\d{3}\)/, 'fine-tuning');
  const dice = (await page.locator('#dice').textContent()) ?? '';
  if (!/^validation Dice \d\.\d{3} \(best \d\.\d{3}\) on case1\.nii\.gz/.test(dice)) fail(`validation Dice: '${dice}'`);
  console.log(`  ${dice}`);
  await checkIdle(page);
  await shot('app-trained'); // both loss panels, the bar at its end, the Dice

  // the segmentation alone: ground truth off, so that the coloured pixels after are the segmentation's
  await page.uncheck('#show-truth');
  await page.waitForTimeout(500);
  const before = await page.locator('#viewer').screenshot();
  await page.click('#segment');
  await waitStatus(/^segmented/, 'segmentation');
  await page.waitForTimeout(1000); // NiiVue draws on the next frames
  const after = await page.locator('#viewer').screenshot();
  writeFileSync(join(results, 'app-before.png'), before);
  writeFileSync(join(results, 'app-overlay.png'), after);
  const [cb, ca] = [colouredPixels(before), colouredPixels(after)];
  console.log(`  coloured pixels in the viewer: ${cb} before segmentation, ${ca} after (screenshots in ${results})`);
  if (!(ca > 50 && ca > 10 * (cb + 1))) fail(`the overlay does not show: ${cb} coloured pixels before, ${ca} after`);
  // opaque, the overlay shows the legend's colours themselves
  await setOpacity(100);
  await page.waitForTimeout(500);
  const opaque = classPixels(await page.locator('#viewer').screenshot(), CLASSES.length);
  await shot('app-segmentation-opaque');
  if (opaque.reduce((a, b) => a + b, 0) < 50) fail(`opaque segmentation: ${opaque} pixels in the classes' colours`);
  console.log(`  opaque segmentation: ${opaque.slice(1).join(', ')} pixels in the colours of ${CLASSES.slice(1)}`);
  await setOpacity(60);
  await page.check('#show-truth');
  await page.waitForTimeout(500);
  await shot('app-segmentation-and-truth');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const saved = join(tmp, 'download.nii.gz');
  await download.saveAs(saved);
  const labels = readNifti(readFileSync(saved), download.suggestedFilename());
  if (labels.dims.join() !== dims[0].join()) fail(`downloaded label map is ${labels.dims}, the volume ${dims[0]}`);
  if (!labels.data.every((v) => v >= 0 && v <= 3 && Number.isInteger(v)))
    fail('the downloaded label map holds values other than 0..3');
  console.log(`  downloaded ${download.suggestedFilename()}: ${labels.dims.join('×')} labels`);

  await page.reload();
  await page.waitForSelector('body[data-ready]');
  await waitStatus(/restored 3 volumes and the fine-tuned model/, 'reload');

  // a long fine-tuning run interrupted by a reload after its first checkpoint (every 25 iterations) resumes
  await page.fill('#size', '32'); // the reload reset the form
  for (const [id, v] of [
    ['spacing', '8'],
    ['width', '0.05'],
    ['finetune-iters', '20000'], // never finishes before the reload or the cancel below, on any backend
    ['batch', '2'],
  ])
    await page.fill(`#${id}`, v);
  await page.selectOption('#validation', ''); // the 20000-iteration run validates on nothing (Dice costs time)
  await page.click('#finetune');
  await page.waitForFunction(
    () =>
      Number(/finetune: iteration (\d+)\//.exec(document.getElementById('status')!.textContent ?? '')?.[1] ?? 0) >= 26,
    null,
    { timeout: 600_000, polling: 100 },
  );
  await checkRunning(page);
  await shot('app-running');
  // the first checkpoint (iteration 25) is stored before the reload: checkpoints cross from the worker on their own
  await page.waitForSelector('body[data-last-checkpoint]', { timeout: 600_000 });
  await page.reload();
  await page.waitForSelector('body[data-ready]');
  await waitStatus(
    /interrupted finetune run can be resumed from its last checkpoint \(iteration \d+\)/,
    'reload during fine-tuning',
  );
  // checkpoints come every 25 iterations; on a fast backend the reload may fall after a later one than the 25th
  const savedAt = Number(/checkpoint \(iteration (\d+)\)/.exec((await statusText()) ?? '')![1]);
  if (!(savedAt >= 25 && savedAt % 25 === 0))
    fail(`the interrupted run's last checkpoint is iteration ${savedAt}, not a multiple of 25`);
  await page.click('#resume');
  await page.waitForSelector('body[data-first-iteration]', { timeout: 600_000 });
  const resumedAt = Number(await page.getAttribute('body', 'data-first-iteration'));
  if (resumedAt !== savedAt + 1)
    fail(
      `the resumed run went on at iteration ${resumedAt}, not ${savedAt + 1} (after the checkpoint of iteration ${savedAt})`,
    );
  console.log(`  reloaded during fine-tuning; resumed at iteration ${resumedAt}`);
  await checkRunning(page);
  await page.click('#cancel');
  await waitStatus(/fine-tuning stopped after iteration/, 'cancel');
  await checkIdle(page);
  await shot('app-cancelled');
  const origin = new URL(url).origin,
    foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
  if (foreign.length) fail(`requests outside the app's origin: ${foreign.join(', ')}`);
  console.log(`  ${requests.length} requests, all to ${origin}`);
  console.log(`app e2e: passed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
} finally {
  await browser.close();
  server.close();
  rmSync(tmp, { recursive: true, force: true });
}
