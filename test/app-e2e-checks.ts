// The app e2e test's checks of what a clinician sees (issue 28, item 11), apart from its train/resume flow in
// app-e2e.ts: the page at load, a run in progress, and the class colours on a rendered screenshot.

import type { Page } from 'playwright-core';
import { decode } from 'fast-png';
import { cssColour, segmentColour } from '../src/viewers/colours.ts';

export type { Page };
const fail = (m: string): never => {
  throw new Error(`app e2e: ${m}`);
};

/** The buttons that start something; all off while a run goes, and cancel on. */
const STARTERS = ['pretrain', 'finetune', 'segment', 'use-drawing'];

/** At load: the browser check's notice, the display controls, the jargon hints, the legend in the shared colours. */
export async function checkLoadedPage(page: Page, classes: string[]): Promise<void> {
  await page.waitForSelector('body[data-backend]');
  const kind = await page.getAttribute('body', 'data-backend'),
    notice = (await page.locator('#backend').textContent()) ?? '';
  if (!(kind === 'webgpu' ? /GPU/ : /CPU .*For speed, use Chrome/).test(notice))
    fail(`the ${kind} notice does not tell the user what runs where: ${notice}`);
  console.log(`  browser check (${kind}): ${notice}`);
  for (const id of ['opacity', 'show-seg', 'show-truth', 'plot-pretrain', 'plot-finetune', 'progress', 'eta', 'dice'])
    if (!(await page.locator(`#${id}`).count())) fail(`#${id} is missing`);
  const hints = await page.locator('.hint').allTextContents();
  for (const term of ['GD/GR/GD-', 'LD/LR', 'width', 'mm/px'])
    if (!hints.some((h) => h.startsWith(`${term}:`))) fail(`no hint explains ${term}`);
  const legend = (await page.locator('#legend').textContent()) ?? '';
  classes.slice(1).forEach((name, i) => {
    if (!legend.includes(`${i + 1} ${name}`)) fail(`the legend lacks '${i + 1} ${name}': ${legend}`);
  });
  const swatches = await page
    .locator('#legend .swatch')
    .evaluateAll((els) =>
      els.map((e) => [Number((e as HTMLElement).dataset.class), getComputedStyle(e).backgroundColor]),
    );
  if (swatches.length !== classes.length - 1)
    fail(`${swatches.length} legend swatches for ${classes.length - 1} classes`);
  for (const [k, colour] of swatches as [number, string][])
    if (colour !== cssColour(k)) fail(`legend swatch ${k} is ${colour}, the shared table says ${cssColour(k)}`);
  console.log(`  legend: ${legend.trim()} (colours as in the PNG and the SEG)`);
}

const stateOf = (page: Page) =>
  page.evaluate((ids) => {
    const el = (id: string) => document.getElementById(id) as HTMLButtonElement;
    return {
      disabled: ids.filter((id) => el(id).disabled),
      cancel: !el('cancel').disabled,
      network: (document.getElementById('network') as HTMLFieldSetElement).disabled,
      progress: (document.getElementById('progress') as HTMLProgressElement).value,
      eta: document.getElementById('eta')!.textContent ?? '',
    };
  }, STARTERS);

/** During a run: the starting buttons and the network settings are off, cancel is on, and the bar and its time
 *  left move on between two looks. */
export async function checkRunning(page: Page): Promise<void> {
  const a = await stateOf(page);
  if (a.disabled.length !== STARTERS.length || !a.cancel || !a.network)
    fail(`during a run: disabled ${a.disabled.join(', ')} of ${STARTERS.join(', ')}; cancel on ${a.cancel}`);
  if (!/iteration \d+ of \d+, about .* left/.test(a.eta)) fail(`no time left shown during the run: '${a.eta}'`);
  await page.waitForFunction(
    (was) => Number((document.getElementById('progress') as HTMLProgressElement).value) > was,
    a.progress,
    { timeout: 600_000, polling: 100 },
  );
  const b = await stateOf(page);
  if (b.eta === a.eta) fail(`the progress text did not change: '${a.eta}'`);
  console.log(`  running: buttons off, cancel on; progress ${a.progress.toFixed(5)} -> ${b.progress.toFixed(5)}`);
  console.log(`    '${a.eta}' -> '${b.eta}'`);
}

/** After a run: the starting buttons are back on, cancel off. */
export async function checkIdle(page: Page): Promise<void> {
  const s = await stateOf(page);
  if (s.disabled.length || s.cancel || s.network)
    fail(`after the run: still disabled ${s.disabled.join(', ')}; cancel on ${s.cancel}`);
}

/** Pixels of a screenshot in each class's shared colour (±4 a channel: an opaque label overlay draws it exactly). */
export function classPixels(png: Buffer, K: number): number[] {
  const img = decode(png),
    d = img.data,
    ch = img.channels,
    counts = new Array(K).fill(0);
  for (let p = 0; p < img.width * img.height; p++)
    for (let k = 1; k < K; k++) {
      const c = segmentColour(k);
      if (c.every((v, i) => Math.abs(d[p * ch + i] - v) <= 4)) counts[k]++;
    }
  return counts;
}
