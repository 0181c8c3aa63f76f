// Loading --data for a command: one place reads the dataset, prints its grid and prepares its splits
// (data/prepare.ts prepareSplits), so every command sees the same volumes on the same grid.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Dataset, loadDataset } from '../data/dataset.ts';
import { prepareSplits } from '../data/prepare.ts';
import type { Preset } from '../presets.ts';
import { printGrid } from './common.ts';
import { writePhantom } from './phantom.ts';

/** The dataset at `data`, its grid line printed; `describe`: first its split note and what it is (train). */
export async function openDataset(data: string, name: string, p: Preset, describe = false): Promise<Dataset> {
  const ds = await loadDataset(data);
  if (describe) {
    if (ds.splitNote) console.log(`${data}: ${ds.splitNote}`);
    console.log(
      `dataset ${ds.root} (${ds.layout}${ds.generator ? `, generator ${JSON.stringify(ds.generator)}` : ''})`,
    );
  }
  printGrid(name, p, ds);
  return ds;
}

/** The dataset at `data` and the splits `which` asks for, prepared on the preset's grid. */
export async function loadSplits(data: string, name: string, p: Preset, which?: Parameters<typeof prepareSplits>[2]) {
  const ds = await openDataset(data, name, p);
  return { ds, ...(await prepareSplits(ds, p, which)) };
}

/** The experiment's volumes at a preset's grid: --data, or the 32-volume phantom the runner writes to <out>/data. */
export async function experimentData(dataArg: string | undefined, out: string, name: string, p: Preset) {
  let data = dataArg;
  if (!data) {
    data = join(out, 'data');
    // 20 labeled training, 2 validation and 10 test volumes, and 32 more unlabeled: a pre-training pool of 52,
    // as many as the paper's on ACDC
    if (!existsSync(join(data, 'manifest.json'))) await writePhantom(data, 32, 1, 32, 32);
  }
  const splits = await loadSplits(data, name, p);
  if (!splits.test.length) throw new Error(`${data}: no labeled volumes with split "test" to evaluate on`);
  return splits;
}
