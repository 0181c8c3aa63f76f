// The grid rule (src/presets.ts): the preset or explicit size/spacing decide the network grid, never a dataset's
// own spacing, and every command prepares a dataset on the same grid for the same preset. The ceiling
// (experiment/ceiling.ts): ground truth through the grid and back.

import { type TestCase, assert } from '../harness.ts';
import {
  PRESETS,
  PRESET_NAMES,
  describeGrid,
  gridOf,
  presetNamed,
  withGrid,
  datasetSpacingNote,
} from '../../src/presets.ts';
import { DEFAULT_SESSION } from '../../src/api/session.ts';
import { generateSubject } from '../../src/data/phantom.ts';
import { prepareVolume } from '../../src/data/pipeline.ts';
import { gridPreprocess, prepareSplits, prepareEntries } from '../../src/data/prepare.ts';
import { loadDataset } from '../../src/data/dataset.ts';
import { writeNiftiFile } from '../../src/io/nifti-file.ts';
import { makeDir, writeFileAtomic } from '../../src/io/files.ts';
import { ceilingScores, CLAIM_CEILING } from '../../src/experiment/ceiling.ts';
import { convergenceCurves } from '../../src/experiment/convergence.ts';
import { decodeSafetensors } from '../../src/train/checkpoint.ts';
import { readFileBytes } from '../../src/io/files.ts';
import { WasmBackend } from '../../src/ops/wasm.ts';

const gridCase: TestCase = {
  name: 'grid: presets decide the grid (overrides checked), every preset spans the cardiac view, the ceiling is 1 on a fine grid and falls on a crop',
  async run() {
    const small = presetNamed('small');
    assert(describeGrid(small) === '64×64 px at 4.1 mm: a 262.4 mm field of view, width ×0.25', describeGrid(small));
    for (const name of PRESET_NAMES) {
      const g = gridOf(PRESETS[name]);
      assert(g.fovMm >= 256 && g.fovMm <= 263, `preset ${name}: a ${g.fovMm} mm view, not the paper's ~262 mm`);
    }
    assert(
      DEFAULT_SESSION.size === PRESETS.quick.size && DEFAULT_SESSION.targetSpacing === PRESETS.quick.targetSpacing,
      'the library default is the quick preset',
    );
    const o = withGrid(small, { spacing: 2 });
    assert(
      o.size === 64 && o.targetSpacing === 2 && small.targetSpacing === 4.1,
      'an override replaces the grid, not the table',
    );
    for (const bad of [{ size: 50 }, { size: 0 }, { spacing: 0 }, { spacing: NaN }]) {
      let msg = '';
      try {
        withGrid(small, bad);
      } catch (e) {
        msg = String(e);
      }
      assert(msg.includes('grid '), `refused: ${JSON.stringify(bad)} (${msg})`);
    }
    assert(datasetSpacingNote(1.36719, small)!.includes('stays the preset'), 'a dataset spacing is said, not applied');
    // the ceiling: at the phantom's own spacing over its whole view, labels come back exactly; on a 32² grid at
    // 4 mm (a 128 mm crop) the heart is cut off and the ceiling falls below the claim threshold
    const s = generateSubject(5, 0),
      native = s.image.spacing[0],
      nx = s.image.dims[0];
    const side = Math.ceil(nx / 32) * 32;
    const fine = await prepareVolume(s.image, s.label, { targetSpacing: native, size: side, biasField: false });
    const fineDice = (await ceilingScores([fine], 4))[0].dice;
    assert(
      fineDice.slice(1).every((d) => d > 0.999),
      `ceiling on the native grid: ${fineDice}`,
    );
    const crop = await prepareVolume(s.image, s.label, { targetSpacing: 4, size: 32, biasField: false });
    const cropDice = (await ceilingScores([crop], 4))[0].dice;
    assert(
      cropDice.slice(1).some((d) => d < CLAIM_CEILING) && cropDice.slice(1).every((d) => d < 1),
      `ceiling on a 128 mm crop at 4 mm: ${cropDice}`,
    );
  },
};

/**
 * A 4-volume phantom whose manifest suggests 1.36719 mm, as the phantom's does: `train` (gridPreprocess) and
 * pretrain / experiment / probe (prepareSplits) put it on one grid, the preset's, at every preset tried.
 */
const sameGridCase: TestCase = {
  name: "grid: train and pretrain/experiment prepare the same dataset on the same grid, the preset's, not the manifest's spacing",
  async run() {
    const dir = `dist/test-results/grid-${Date.now().toString(36)}`;
    await makeDir(dir);
    const entries = [];
    for (let i = 0; i < 4; i++) {
      const s = generateSubject(9, i);
      await writeNiftiFile(`${dir}/v${i}.nii.gz`, s.image, { datatype: 'float32' });
      await writeNiftiFile(`${dir}/v${i}_gt.nii.gz`, s.label, { datatype: 'uint8' });
      entries.push({
        name: `v${i}`,
        image: `v${i}.nii.gz`,
        label: `v${i}_gt.nii.gz`,
        split: ['test', 'val', 'train', 'unlabeled'][i],
      });
    }
    const manifest = { classes: ['background', 'RV', 'myocardium', 'LV'], targetSpacing: 1.36719, entries };
    await writeFileAtomic(`${dir}/manifest.json`, JSON.stringify(manifest));
    const ds = await loadDataset(dir);
    for (const [name, over] of [
      ['smoke', {}],
      ['small', {}],
      ['smoke', { spacing: 6 }],
    ] as const) {
      const p = withGrid(presetNamed(name), over);
      const trainVols = await prepareEntries(
        ds,
        ds.entries.filter((e) => e.split === 'train'),
        gridPreprocess(p),
      );
      const splits = await prepareSplits(ds, p);
      const grids = [...trainVols, ...splits.train, ...splits.test, ...splits.unlabeled].map(
        (v) => `${v.geometry.network.join('×')}@${v.geometry.target}`,
      );
      assert(
        new Set(grids).size === 1 && grids[0] === `${p.size}×${p.size}@${p.targetSpacing}`,
        `preset ${name} ${JSON.stringify(over)}: grids ${[...new Set(grids)].join(', ')}, want ${p.size}² at ${p.targetSpacing} mm`,
      );
    }
  },
};

/** A 4-volume dataset whose manifest suggests 1.36719 mm, as the phantom's does; splits by index. */
async function tinyDataset(dir: string, splits: string[]) {
  await makeDir(dir);
  const entries = [];
  for (let i = 0; i < splits.length; i++) {
    const s = generateSubject(9, i);
    await writeNiftiFile(`${dir}/v${i}.nii.gz`, s.image, { datatype: 'float32' });
    await writeNiftiFile(`${dir}/v${i}_gt.nii.gz`, s.label, { datatype: 'uint8' });
    entries.push({ name: `v${i}`, image: `v${i}.nii.gz`, label: `v${i}_gt.nii.gz`, split: splits[i] });
  }
  const manifest = { classes: ['background', 'RV', 'myocardium', 'LV'], targetSpacing: 1.36719, entries };
  await writeFileAtomic(`${dir}/manifest.json`, JSON.stringify(manifest));
  return loadDataset(dir);
}

/** "Run longer" costs only the longer part: curves resumed from their checkpoints equal one longer run, bit for bit. */
const convergenceResumeCase: TestCase = {
  name: 'convergence: curves resumed to more iterations give the same points and weights as one run that long',
  async run() {
    const dir = `dist/test-results/convergence-${Date.now().toString(36)}`;
    const ds = await tinyDataset(`${dir}/data`, ['train', 'train', 'train', 'val']);
    const p = { ...presetNamed('smoke'), valEvery: 2 },
      splits = await prepareSplits(ds, p);
    const be = await WasmBackend.create({ threads: 1 });
    try {
      const setup = (out: string) => ({
        be,
        out,
        preset: 'smoke',
        definition: p,
        classes: ds.classes ?? [],
        train: splits.train,
        val: splits.val,
        log: () => {},
      });
      await makeDir(`${dir}/once`);
      await makeDir(`${dir}/twice`);
      const once = await convergenceCurves(setup(`${dir}/once`), 6, 2);
      await convergenceCurves(setup(`${dir}/twice`), 2, 2);
      const twice = await convergenceCurves(setup(`${dir}/twice`), 6, 2, true);
      const pts = (r: typeof once) => JSON.stringify(r.curves.map((c) => c.points));
      assert(pts(once) === pts(twice), `points: one run ${pts(once)}, resumed ${pts(twice)}`);
      assert(once.curves[0].points.length === 3, `validations at 2, 4, 6: ${pts(once)}`);
      for (const curve of ['benchmark', 'random']) {
        const tensors = async (run: string) => {
          const path = `${dir}/${run}/convergence-smoke-${curve}.last.safetensors`;
          const t = decodeSafetensors(await readFileBytes(path), path).tensors;
          return [...t]
            .map(
              ([k, v]) =>
                `${k}:${Array.from(new Uint32Array(v.data.buffer, v.data.byteOffset, v.data.length)).join(',')}`,
            )
            .join(';');
        };
        assert((await tensors('once')) === (await tensors('twice')), `${curve}: resumed weights differ from one run`);
      }
    } finally {
      be.destroy();
    }
  },
};

export const gridCases: TestCase[] = [gridCase];
export const gridFileCases: TestCase[] = [sameGridCase, convergenceResumeCase];
