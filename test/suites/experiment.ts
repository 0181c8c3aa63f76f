// The experiment runner (src/experiment/): its statistics against hand-computed values, the CSV round trip and
// table, and (Node and Deno: files) a smoke-preset experiment on a small phantom that skips finished cells and
// recomputes a removed one bit for bit.

import { type TestCase, assert } from '../harness.ts';
import { pairedDifference, std, tQuantile975 } from '../../src/experiment/stats.ts';
import { type ResultRow, csvHeader, csvLine, parseCsv, markdownTable, BENCHMARK } from '../../src/experiment/report.ts';
import {
  cellModelPath,
  drawLabeled,
  parseMethod,
  pseudoLabels,
  runExperiment,
  selfTrain,
} from '../../src/experiment/experiment.ts';
import { UNet, tinyUNet } from '../../src/model/unet.ts';
import type { GpuTensor } from '../../src/runtime/runtime.ts';
import { PAPER_FINETUNE, predictLabels } from '../../src/train/finetune.ts';
import { preparedFromBatch } from './checkpoint.ts';
import { generateSubject } from '../../src/data/phantom.ts';
import { prepareVolume } from '../../src/data/pipeline.ts';
import {
  fileExists,
  makeDir,
  nodeFs,
  readFileBytes,
  readText,
  withFileLock,
  writeFileAtomic,
} from '../../src/io/files.ts';
import { decodeSafetensors } from '../../src/train/checkpoint.ts';
import { CEILING } from '../../src/experiment/ceiling.ts';
import { partitionOf, partitionRetrieval, sliceEmbeddings } from '../../src/experiment/probe.ts';
import { Rng } from '../../src/util/random.ts';

const close = (a: number, b: number, tol = 1e-3) => Math.abs(a - b) <= tol;

const row = (method: string, labeled: number, run: number, meanFg: number): ResultRow => ({
  commit: 'c',
  adapter: 'a, with "quotes"',
  runtime: 'node',
  preset: 'p',
  dataset: 'd',
  method,
  labeled,
  run,
  seed: run,
  volumes: 'x;y',
  iterations: 1,
  seconds: 2,
  dice: [meanFg, meanFg, meanFg],
  meanFg,
  hd95: [10 * meanFg, NaN, 3],
  meanHd95: 4 + meanFg,
  init: 1,
  presetDef: 'a1b2c3d4',
  draw: run === 2 ? 'disjoint' : 'independent',
  pretrainSeed: 1,
  size: 64,
  spacing: 4.1,
  fovMm: 262.4,
  width: 0.25,
});

const statsCase: TestCase = {
  name: 'experiment: statistics (paired 95% t interval), CSV round trip, table, methods and labeled draws',
  async run() {
    // d = [1, 2, 3]: mean 2, sd 1, t(2) = 4.303, half-width 4.303/√3 = 2.4843
    const d = pairedDifference([1, 2, 3], [0, 0, 0]);
    assert(
      close(d.mean, 2) && close(d.lo, 2 - 2.4843) && close(d.hi, 2 + 2.4843) && !d.excludesZero,
      `CI ${d.lo} ${d.hi}`,
    );
    assert(
      pairedDifference([0.8, 0.82, 0.81, 0.79, 0.83], [0.7, 0.71, 0.69, 0.72, 0.7]).excludesZero,
      'a clear gain excludes 0',
    );
    assert(
      close(std([2, 4, 4, 4, 5, 5, 7, 9]), 2.138) &&
        tQuantile975(4) === 2.776 &&
        tQuantile975(11) === 2.201 &&
        close(tQuantile975(31), 2.0395, 1e-4) &&
        close(tQuantile975(100), 1.984, 1e-3),
      `std, t quantiles (past the table: ${tQuantile975(31)}, ${tQuantile975(100)})`,
    );
    const rows = [
      row('random', 2, 1, 0.5),
      row('random', 2, 2, 0.6),
      row('GD+LD', 2, 1, 0.7),
      row('GD+LD', 2, 2, 0.75),
      row(BENCHMARK, 20, 1, 0.9),
      row('GD+LD+mixup', 2, 1, 0.85),
    ];
    const text = [csvHeader(['RV', 'myo', 'LV']), ...rows.map(csvLine)].join('\n');
    const back = parseCsv(text, 'mem');
    assert(
      JSON.stringify(back) === JSON.stringify(rows) && Number.isNaN(back[0].hd95[1]),
      'CSV round trip (quoted fields, NaN)',
    );
    // a file from before HD95 was recorded: its rows read with NaN distances
    const old = [
      'commit,adapter,runtime,preset,dataset,method,labeled,run,seed,volumes,iterations,seconds,dice_RV,mean_fg',
      '"c","a","node","p","d","random",2,1,1,"x",1,2,0.5,0.5',
    ].join('\n');
    const o = parseCsv(old, 'old.csv');
    assert(
      o.length === 1 && o[0].meanFg === 0.5 && Number.isNaN(o[0].meanHd95) && o[0].hd95.length === 1 && o[0].init === 1,
      'an older results file',
    );
    // a file from before the draw column: every run drew independently
    const dropLast = (t: string) =>
      t
        .split('\n')
        .map((l) => l.slice(0, l.lastIndexOf(',')))
        .join('\n');
    // a file from before the grid columns: pre-training seed 1, the grid unknown
    const noGrid = dropLast(dropLast(dropLast(dropLast(dropLast(text)))));
    const ng = parseCsv(noGrid, 'no-grid.csv');
    assert(
      ng.every((r) => r.pretrainSeed === 1 && Number.isNaN(r.fovMm) && Number.isNaN(r.width)) &&
        back[0].fovMm === 262.4 &&
        back[0].size === 64,
      `rows without the grid columns: ${JSON.stringify(ng[0])}`,
    );
    const noDraw = parseCsv(dropLast(noGrid), 'no-draw.csv');
    assert(
      noDraw.every((r) => r.draw === 'independent' && r.presetDef === 'a1b2c3d4'),
      `rows without draw: ${JSON.stringify(noDraw[1])}`,
    );
    let badDraw = '';
    try {
      parseCsv(text.replace('"disjoint"', '"shuffled"'), 'bad-draw.csv');
    } catch (e) {
      badDraw = String(e);
    }
    assert(
      badDraw.includes("bad-draw.csv: line 3: draw 'shuffled'"),
      `an unknown draw names the file and line: ${badDraw}`,
    );
    // ... and from before the preset_def column: its rows read with '' (counted as the current definition's)
    const noDef = parseCsv(dropLast(dropLast(noGrid)), 'no-def.csv');
    assert(
      noDef.every((r) => r.presetDef === '') && noDef.map((r) => r.init).join() === '1,1,1,1,1,1',
      `rows without preset_def: ${JSON.stringify(noDef[0])}`,
    );
    // ... and from before the init column: each run's network was initialised with the run's seed
    const noInit = dropLast(dropLast(dropLast(noGrid)));
    assert(
      parseCsv(noInit, 'no-init.csv')
        .map((r) => r.init)
        .join() === '1,2,1,2,1,1',
      `rows without init: ${parseCsv(noInit, 'no-init.csv').map((r) => r.init)}`,
    );
    const md = markdownTable(back, [['GD+LD', 'random']]);
    // the benchmark has run 1 only: GD+LD's gap is over run 1 (0.7 against 0.9), not its mean over runs 1 and 2
    assert(
      md.includes('| GD+LD | 0.725 ± 0.035 (n=2); 22.2% below the benchmark over the 1 run both have |') &&
        md.includes('| GD+LD − random | 2 | 2 | +0.175 |') &&
        md.includes('| GD+LD | 4.72 ± 0.04 (n=2) |') &&
        md.includes(
          'within 8% of the benchmark with 2 labeled volumes: 5.6% below it (n=1, the runs both have); per-run gap ' +
            '5.6% (positive: below the benchmark): **not decided (one run: no interval)**',
        ),
      md,
    );
    // over runs, the claim is judged on the 95% interval of the per-run gap (t(2) = 4.303, half-width 4.303·sd/√3)
    const claimOf = (mix: number[]) =>
      markdownTable(
        [...mix.map((_, i) => row(BENCHMARK, 20, i + 1, 1)), ...mix.map((m, i) => row('GD+LD+mixup', 2, i + 1, m))],
        [],
      )
        .split('\n')
        .find((l) => l.startsWith("Abstract's claim")) ?? '';
    const claims = [
      [[0.96, 0.94, 0.95], 'per-run gap 5.0%, 95% CI [2.5%, 7.5%]', 'met (the whole interval is within 8%)'],
      [[0.85, 0.83, 0.84], 'per-run gap 16.0%, 95% CI [13.5%, 18.5%]', 'not met (the whole interval is beyond 8%)'],
      [[0.96, 0.84, 0.9], 'per-run gap 10.0%, 95% CI [-4.9%, 24.9%]', 'not decided (the interval holds 8%)'],
    ] as const;
    for (const [mix, gap, verdict] of claims) {
      const line = claimOf([...mix]);
      assert(line.includes(gap) && line.includes(`**${verdict}**`), `claim of ${mix}: ${line}`);
    }
    // two pre-training seeds: a run enters once it has both (GD+LD's run 3 and the Mixup run 2 have seed 1 only);
    // differences pair by (run, seed); the variation table's stds are over runs and over seeds
    const s2 = (m: string, n: number, run: number, seed: number, v: number): ResultRow => ({
      ...row(m, n, run, v),
      pretrainSeed: seed,
    });
    const seededRows = [
      ...[0.5, 0.54, 0.6, 0.62, 0.55, 0.57].map((v, i) => s2('random', 2, (i >> 1) + 1, (i & 1) + 1, v)),
      ...[0.7, 0.66, 0.75, 0.71, 0.9].map((v, i) => s2('GD+LD', 2, (i >> 1) + 1, (i & 1) + 1, v)),
      ...[0.9, 0.92, 0.88, 0.9].map((v, i) => s2(BENCHMARK, 20, (i >> 1) + 1, (i & 1) + 1, v)),
      ...[0.85, 0.83, 0.8].map((v, i) => s2('GD+LD+mixup', 2, (i >> 1) + 1, (i & 1) + 1, v)),
    ];
    const sm = markdownTable(seededRows, [['GD+LD', 'random']]);
    assert(
      sm.includes('| GD+LD | 0.705 ± 0.035 (n=2);') &&
        sm.includes('| GD+LD − random | 2 | 2 | +0.140 | [-0.114, 0.394] | no |') &&
        sm.includes('| GD+LD − random | 2 | 0.028 | 0.049 | seed 1: +0.175; seed 2: +0.105 |') &&
        sm.includes('| GD+LD+mixup | 0.840 ± 0.000 (n=1); 7.7% below the benchmark over the 1 run both have |') &&
        sm.includes('Left out until they have every seed: GD+LD (2 labeled) run 3; GD+LD+mixup (2 labeled) run 2.'),
      sm,
    );
    const oneRun = markdownTable(
      seededRows.filter((r) => r.run === 1),
      [['GD+LD', 'random']],
    );
    assert(oneRun.includes('| GD+LD − random | 2 | — | 0.057 |'), `one run: no std over runs\n${oneRun}`);
    const refused = (rs: ResultRow[]) => {
      try {
        markdownTable(rs, []);
        return '';
      } catch (e) {
        return String(e);
      }
    };
    const twice = refused([...seededRows, { ...seededRows[2], commit: 'other' }]),
      nan = refused([...seededRows.slice(1), { ...seededRows[0], meanFg: Number.NaN }]);
    assert(
      twice.includes('two rows for the cell random, 2 labeled, run 2, pre-training seed 1 (commits c and other)') &&
        nan.includes('the cell random, 2 labeled, run 1, pre-training seed 1 has Dice NaN'),
      `a cell twice, a NaN: ${twice} | ${nan}`,
    );
    assert(
      parseMethod('GD+LD+mixup').local === 'LD' &&
        parseMethod('GD+LD+mixup').mixup &&
        parseMethod('random').global === null,
      'methods',
    );
    const fr = parseMethod('GD+LD+frozen+mixup');
    assert(
      fr.frozenEncoder && fr.mixup && fr.local === 'LD' && !parseMethod('GD+LD').frozenEncoder,
      `a frozen encoder: ${JSON.stringify(fr)}`,
    );
    let frozenBench = '';
    try {
      parseMethod('benchmark+frozen');
    } catch (e) {
      frozenBench = String(e);
    }
    assert(
      frozenBench.includes("unknown method 'benchmark+frozen'"),
      'the benchmark is random init fine-tuned in full',
    );
    const part = parseMethod('GD+LD/1+mixup');
    assert(
      part.name === 'GD+LD/1+mixup' &&
        part.local === 'LD' &&
        part.global === 'GD' &&
        part.mixup &&
        part.transferBlocks === 1 &&
        parseMethod('GD+LD').transferBlocks === null,
      `a partial decoder transfer: ${JSON.stringify(part)}`,
    );
    const cut = parseMethod('GD+LD@0/2');
    assert(
      cut.localIterations === 0 &&
        cut.transferBlocks === 2 &&
        cut.local === 'LD' &&
        parseMethod('GD+LD').localIterations === null,
      `a local stage cut short: ${JSON.stringify(cut)}`,
    );
    let bad = '';
    try {
      parseMethod('LD+GD');
    } catch (e) {
      bad = String(e);
    }
    assert(bad.includes("unknown method 'LD+GD'"), 'a local stage needs a global one first');
    const a = drawLabeled(20, 2, 2, 1),
      b = drawLabeled(20, 2, 2, 2);
    assert(
      a.length === 2 && a[0] !== a[1] && a.join() !== b.join() && a.join() === drawLabeled(20, 2, 2, 1).join(),
      `labeled draws ${a} ${b}`,
    );
    // the independent draws of docs/experiments.md's rows, kept: runs 4 and 5 with 1 labeled volume drew the same one
    const same = [drawLabeled(20, 2, 2, 1), drawLabeled(20, 1, 1, 4), drawLabeled(20, 1, 1, 5, 'independent')]
      .map((d) => d.join())
      .join(' ');
    assert(same === '17,18 6 6', `independent draws moved: ${same}`);
    // disjoint: 20 runs of 1 cover the pool once; runs of 8 from 20 go in rounds of 2 with no volume twice in a round
    const ones = Array.from({ length: 20 }, (_, r) => drawLabeled(20, 1, 1, r + 1, 'disjoint')[0]);
    assert(new Set(ones).size === 20 && ones.every((v) => v >= 0 && v < 20), `disjoint single draws: ${ones}`);
    const eights = Array.from({ length: 4 }, (_, r) => drawLabeled(20, 8, 8, r + 1, 'disjoint'));
    const round = (i: number) => new Set([...eights[i], ...eights[i + 1]]);
    assert(
      eights.every((d) => d.length === 8 && new Set(d).size === 8) &&
        round(0).size === 16 &&
        round(2).size === 16 &&
        eights[0].join() !== eights[2].join(),
      `disjoint draws of 8: ${eights.map((d) => d.join()).join(' | ')}`,
    );
  },
};

/** Node and Deno only: writes under dist/test-results. */
const experimentFileCase: TestCase = {
  name: 'experiment: a smoke-preset run on a 6-volume phantom; finished cells are skipped, a removed one comes back bit for bit, rows of another preset definition are not counted, the CSV is locked, another fine-tuning budget (--iterations) is a definition of its own on the same checkpoints, a changed pre-training preset is refused',
  async run(env) {
    const out = `dist/test-results/experiment-${Date.now().toString(36)}`;
    await makeDir(out);
    const o = { targetSpacing: 8, size: 32, biasField: true };
    const vols = [];
    for (let i = 0; i < 6; i++) {
      const s = generateSubject(3, i);
      vols.push(await prepareVolume(s.image, s.label, o));
    }
    const classes = ['background', 'RV', 'myocardium', 'LV'];
    const setup = {
      be: env.gpu,
      out,
      preset: 'smoke',
      classes,
      train: vols.slice(0, 3),
      val: vols.slice(3, 4),
      test: vols.slice(4),
      unlabeled: vols.slice(0, 4),
      provenance: { commit: 'test', adapter: 'test', runtime: 'test', dataset: 'phantom test' },
      log: () => {},
    };
    const req = { methods: ['random', 'GD+LD'], labeled: [1], runs: 2 };
    const first = await runExperiment(setup, req);
    assert(
      first.length === 4 && first.every((r) => Number.isFinite(r.meanFg) && r.init === 1),
      `4 rows, every network initialised with seed 1: ${first.length}`,
    );
    assert(
      (await fileExists(`${out}/pretrain/smoke/GD+LD.safetensors`)) && (await fileExists(`${out}/experiment.svg`)),
      'pre-training checkpoint and plot',
    );
    const csv = await readText(`${out}/experiment.csv`);
    const ceiling = parseCsv(csv, 'first').filter((r) => r.method === CEILING);
    assert(
      ceiling.length === 1 &&
        ceiling[0].dice.every((d) => d > 0 && d <= 1) &&
        ceiling[0].fovMm === 256 &&
        ceiling[0].size === 32 &&
        first.every((r) => r.fovMm === 256 && r.spacing === 8 && r.width === 0.05 && r.pretrainSeed === 1) &&
        (await readText(`${out}/experiment.md`)).includes('Ceiling on this grid'),
      `one ceiling row, every row with its grid: ${JSON.stringify(ceiling)}`,
    );
    const again = await runExperiment(setup, req);
    assert(
      (await readText(`${out}/experiment.csv`)) === csv && again.length === 4,
      'a finished experiment runs nothing again',
    );
    // drop the GD+LD run-2 row: only it is recomputed, from the saved pre-training, to the same value
    const lines = csv.trimEnd().split('\n'),
      drop = lines.findIndex((l) => l.includes('"GD+LD",1,2,'));
    assert(drop > 0, 'the GD+LD run-2 row');
    await writeFileAtomic(`${out}/experiment.csv`, `${lines.filter((_, i) => i !== drop).join('\n')}\n`);
    const redone = await runExperiment(setup, req);
    const was = first.find((r) => r.method === 'GD+LD' && r.run === 2)!,
      now = redone.find((r) => r.method === 'GD+LD' && r.run === 2)!;
    assert(Object.is(was.meanFg, now.meanFg) && redone.length === 4, `recomputed ${now.meanFg} vs ${was.meanFg}`);
    // 'GD+LD@0': the local stage hands on its untrained start, G^D's encoder with the stage's decoder init
    // ... while another runner (here: the log hook after the first cell) adds a row of its own to the same file
    const csvPath = `${out}/experiment.csv`,
      foreign = (await readText(csvPath)).split('\n')[1].replace(',"smoke",', ',"elsewhere",');
    let injected = false;
    const log = async () => {
      if (injected) return;
      injected = true;
      await writeFileAtomic(csvPath, `${await readText(csvPath)}${foreign}\n`);
    };
    await runExperiment({ ...setup, log }, { methods: ['GD+LD@0'], labeled: [1], runs: 2 });
    const merged = parseCsv(await readText(csvPath), 'merged');
    assert(
      injected &&
        merged.some((r) => r.preset === 'elsewhere') &&
        merged.filter((r) => r.method === 'GD+LD@0').length === 2 &&
        merged.length === 8,
      `the other runner's row is kept: ${merged.map((r) => `${r.preset}/${r.method}/${r.run}`).join(' ')}`,
    );
    // init 'run': run 1 is the same cell as under 'fixed' (seed 1 either way) and is kept; run 2 is a new one
    await runExperiment(setup, { methods: ['random'], labeled: [1], runs: 2, init: 'run' });
    const added = parseCsv(await readText(csvPath), 'init run').slice(merged.length);
    assert(
      added.length === 1 && added[0].method === 'random' && added[0].run === 2 && added[0].init === 2,
      `init 'run' adds one row: ${JSON.stringify(added)}`,
    );
    // draw 'disjoint': other cells than the independent draws' (two new rows, two different volumes), and a table of its own
    const disjoint = await runExperiment(setup, { methods: ['random'], labeled: [1], runs: 2, draw: 'disjoint' });
    const drawn = parseCsv(await readText(csvPath), 'disjoint').filter((r) => r.draw === 'disjoint');
    assert(
      drawn.length === 2 &&
        drawn[0].volumes !== drawn[1].volumes &&
        drawn.every((r, i) => r.volumes === setup.train[drawLabeled(3, 1, 1, i + 1, 'disjoint')[0]].name) &&
        disjoint.length === 2 &&
        disjoint.every((r) => r.draw === 'disjoint'),
      `disjoint draws: ${JSON.stringify(drawn.map((r) => r.volumes))}, table ${disjoint.length}`,
    );
    // a runner on runs 2..2 only (scripts/experiment-parallel.sh), then a report-only pass that computes nothing
    await runExperiment(setup, { methods: ['GR'], labeled: [1], runs: 2, firstRun: 2, keepModels: true });
    const ranged = parseCsv(await readText(csvPath), 'first run 2').filter((r) => r.method === 'GR');
    assert(
      ranged.length === 1 && ranged[0].run === 2,
      `--first-run 2 computes run 2 alone: ${JSON.stringify(ranged.map((r) => r.run))}`,
    );
    const kept = decodeSafetensors(await readFileBytes(cellModelPath(out, 'smoke', 'GR', 1, 2)), 'kept model').tensors;
    assert(
      kept.has('enc1_1/w') && !(await fileExists(cellModelPath(out, 'smoke', 'GR', 1, 1))),
      "--keep-models saves the computed cell's network only",
    );
    // '+frozen': fine-tuning leaves every encoder weight as G^R's stage left it, and trains the rest
    await runExperiment(setup, { methods: ['GR+frozen'], labeled: [1], runs: 1, keepModels: true });
    const frozen = decodeSafetensors(
      await readFileBytes(cellModelPath(out, 'smoke', 'GR+frozen', 1, 1)),
      'frozen',
    ).tensors;
    const stage = decodeSafetensors(await readFileBytes(`${out}/pretrain/smoke/GR.safetensors`), 'GR stage').tensors;
    const encNames = [...stage.keys()].filter((k) => /^enc.*\/(w|b|bn\/(gamma|beta))$/.test(k));
    const bitsEqual = (a: Float32Array, b: Float32Array) =>
      a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
    assert(
      encNames.length > 4 &&
        encNames.every((k) => bitsEqual(frozen.get(k)!.data, stage.get(k)!.data)) &&
        !bitsEqual(frozen.get('dec1_1/w')!.data, stage.get('dec1_1/w')!.data),
      `a frozen encoder is not moved by fine-tuning (${encNames.length} encoder tensors), the decoder is`,
    );
    const before = await readText(csvPath),
      said: string[] = [];
    const reported = await runExperiment(
      {
        ...setup,
        log: (l: string) => {
          said.push(l);
        },
      },
      { methods: ['GR'], labeled: [1], runs: 2, reportOnly: true },
    );
    assert(
      (await readText(csvPath)) === before &&
        reported.filter((r) => r.method === 'GR').length === 1 &&
        said.some((l) => l.includes('GR, 1 labeled, run 1')),
      `report only: nothing computed, the missing cell named: ${said.join(' | ')}`,
    );
    // --iterations: another fine-tuning budget on the same checkpoints is another definition (new cells, own table);
    // a row from before preset_def was written (here: random run 1, its stamp removed) is no finished cell: it may
    // come from before the grid rule, on a dataset's grid
    const stamp = /,"[0-9a-f]{8}","independent",/;
    const unstamped = before
      .split('\n')
      .map((l) =>
        l.includes('"random",1,1,') && l.includes(`,1,"${first[0].presetDef}","independent",`)
          ? l.replace(stamp, ',"","independent",')
          : l,
      );
    assert(unstamped.join('\n') !== before, 'the random run-1 row, unstamped');
    await writeFileAtomic(csvPath, unstamped.join('\n'));
    const presetText = await readText(`${out}/pretrain/smoke/preset.json`);
    const atPreset = await runExperiment(setup, { methods: ['random'], labeled: [1], runs: 1 });
    const rowCount = parseCsv(await readText(csvPath), 'legacy').length;
    assert(
      rowCount === parseCsv(unstamped.join('\n'), 'unstamped').length + 1 &&
        atPreset.find((r) => r.method === 'random' && r.run === 1)?.presetDef === first[0].presetDef,
      `the unstamped row is recomputed beside itself: ${atPreset.map((r) => `${r.method}/${r.presetDef}`).join(' ')}`,
    );
    const longer = await runExperiment(setup, { methods: ['random'], labeled: [1], runs: 1, iterations: 4 });
    // (and its own ceiling row: the ceiling is stamped with the definition it was computed under)
    const added4 = parseCsv(await readText(csvPath), 'iterations 4')
      .slice(rowCount)
      .filter((r) => r.method !== CEILING);
    assert(
      added4.length === 1 &&
        added4[0].iterations === 4 &&
        added4[0].presetDef !== first[0].presetDef &&
        added4[0].presetDef !== '' &&
        longer.length === 1 &&
        longer[0].iterations === 4 &&
        (await readText(`${out}/pretrain/smoke/preset.json`)) === presetText,
      `4 fine-tuning iterations: one new cell, tabled alone, the checkpoints' preset.json kept: ${JSON.stringify(added4.map((r) => [r.iterations, r.presetDef]))}, table ${longer.length}`,
    );
    await writeFileAtomic(csvPath, before);
    const read = async (f: string) =>
      decodeSafetensors(await readFileBytes(`${out}/pretrain/smoke/${f}.safetensors`), f).tensors;
    const [cut, gd, ld] = [await read('GD+LD@0'), await read('GD'), await read('GD+LD')];
    const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
    assert(same(cut.get('enc3_1/w')!.data, gd.get('enc3_1/w')!.data), 'GD+LD@0 keeps the G^D encoder');
    assert(
      !same(cut.get('dec2_1/w')!.data, ld.get('dec2_1/w')!.data) &&
        same(cut.get('dec5_1/w')!.data, ld.get('dec5_1/w')!.data),
      "GD+LD@0 has the local stage's decoder init: trained blocks differ from GD+LD, untrained ones do not",
    );
    // a row carried in from another definition of 'smoke' is no finished cell: the cell is computed anew beside it
    const all = (await readText(csvPath)).trimEnd().split('\n'),
      r1 = all.findIndex((l) => l.includes('"random",1,1,') && l.includes(',"independent",'));
    const carried = all[r1].replace(/,"[0-9a-f]{8}","independent",/, ',"feedface","independent",');
    assert(r1 > 0 && carried !== all[r1], `the random run-1 row, stamped: ${all[r1]}`);
    await writeFileAtomic(csvPath, `${[...all.filter((_, i) => i !== r1), carried].join('\n')}\n`);
    const told: string[] = [];
    const table = await runExperiment(
      {
        ...setup,
        log: (l: string) => {
          told.push(l);
        },
      },
      { methods: ['random'], labeled: [1], runs: 1 },
    );
    const both = parseCsv(await readText(csvPath), 'carried').filter(
      (r) => r.preset === 'smoke' && r.method === 'random' && r.run === 1 && r.init === 1 && r.draw === 'independent',
    );
    assert(
      both.length === 2 &&
        both.some((r) => r.presetDef === 'feedface') &&
        Object.is(both[0].meanFg, both[1].meanFg) &&
        table.filter((r) => r.method === 'random' && r.run === 1).length === 1 &&
        told.some((l) => l.includes("1 'smoke' rows were made with another definition")),
      `recomputed beside the carried row, outside the table: ${both.map((r) => r.presetDef)} | ${told.join(' | ')}`,
    );
    // --pretrain-seeds 2: seed 2 trains its own stages under pretrain/smoke/seed2/ and initialises its runs' networks;
    // runs pair within each seed, and the table reports the variation between seeds apart from that between runs
    const seeded = await runExperiment(setup, { methods: ['random', 'GR'], labeled: [1], runs: 2, pretrainSeeds: 2 });
    const seed2 = seeded.filter((r) => r.pretrainSeed === 2),
      gr1 = await read('GR'),
      gr2 = decodeSafetensors(await readFileBytes(`${out}/pretrain/smoke/seed2/GR.safetensors`), 'seed 2').tensors;
    assert(
      seeded.length === 8 &&
        seed2.length === 4 &&
        seed2.every((r) => r.init === 2) &&
        !same(gr1.get('enc1_1/w')!.data, gr2.get('enc1_1/w')!.data) &&
        (await readText(`${out}/experiment.md`)).includes('std between seeds') &&
        /rows made on commits? \S+ \(\d+ rows?\)/.test(await readText(`${out}/experiment.md`)),
      `two pre-training seeds: ${seeded.map((r) => `${r.method}/${r.run}/${r.pretrainSeed}`).join(' ')}`,
    );
    // the CSV's lock: a held one is waited for, a stale one (its holder died) is removed, an error releases it
    const fs = await nodeFs(),
      lockOf = `${csvPath}.lock`,
      order: string[] = [];
    await writeFileAtomic(lockOf, 'held');
    const release = new Promise<void>((done) =>
      setTimeout(() => {
        order.push('released');
        fs.unlink(lockOf).then(done);
      }, 300),
    );
    await withFileLock(csvPath, async () => {
      order.push('ran');
    });
    await release;
    assert(order.join() === 'released,ran' && !(await fileExists(lockOf)), `a held lock is waited for: ${order}`);
    await writeFileAtomic(lockOf, 'left by a dead runner');
    await fs.utimes(lockOf, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const failed = await withFileLock(csvPath, () => Promise.reject(new Error('inside')), { staleMs: 5_000 }).then(
      () => '',
      (e: Error) => e.message,
    );
    assert(
      failed === 'inside' && !(await fileExists(lockOf)),
      `a stale lock is taken, and released on error: ${failed}`,
    );
    await writeFileAtomic(lockOf, 'held');
    const timedOut = await withFileLock(csvPath, async () => 1, { waitMs: 200 }).then(
      () => '',
      (e: Error) => e.message,
    );
    assert(
      timedOut.includes(lockOf) && timedOut.includes('remove it if no runner is writing'),
      `a lock held too long is named: ${timedOut}`,
    );
    await fs.unlink(lockOf);
    // the folder was made by another definition of 'smoke' (here: 5 pre-training iterations): the runner stops
    const presetFile = `${out}/pretrain/smoke/preset.json`,
      defined = await readText(presetFile);
    await writeFileAtomic(presetFile, defined.replace(/"pretrainIterations":\d+/, '"pretrainIterations":5'));
    const stopped = await runExperiment(setup, req).then(
      () => null,
      (e: Error) => e.message,
    );
    assert(
      stopped?.includes(presetFile) && stopped.includes('"pretrainIterations":5') && stopped.includes('fresh --out'),
      `a changed preset is refused, naming the file: ${stopped}`,
    );
    assert((await readText(presetFile)) !== defined && (await readText(csvPath)).length > 0, 'nothing is overwritten');
    // checkpoints from before the grid rule (their preset.json has no grid field) are refused the same way
    await writeFileAtomic(presetFile, defined.replace(/,"grid":"[^"]*"/, ''));
    const ungridded = await runExperiment(setup, req).then(
      () => null,
      (e: Error) => e.message,
    );
    assert(
      ungridded?.includes(presetFile) && ungridded.includes('fresh --out'),
      `a folder pre-trained before the grid rule is refused: ${ungridded}`,
    );
  },
};

const selfTrainingCase: TestCase = {
  name: "experiment: self-training labels the unlabeled volumes with the model's argmax and trains on them, never on their own labels",
  async run(env) {
    const S = 16,
      a = preparedFromBatch('a', S, 3, 1),
      b = preparedFromBatch('b', S, 3, 2),
      c = preparedFromBatch('c', S, 4, 4),
      d = preparedFromBatch('d', S, 3, 5);
    const o = { ...PAPER_FINETUNE, iterations: 6, batch: 4, valEvery: 2, seed: 5 };
    const m = parseMethod('GD+LD+mixup+self');
    assert(
      m.selfTraining &&
        m.mixup &&
        m.global === 'GD' &&
        m.local === 'LD' &&
        parseMethod('GD+LD@0+self').selfTraining &&
        !parseMethod('random').selfTraining,
      'parse +self',
    );
    for (const bad of ['self', 'benchmark+self', 'random+self+mixup']) {
      let threw = false;
      try {
        parseMethod(bad);
      } catch {
        threw = true;
      }
      assert(threw, `'${bad}' is refused`);
    }
    const weights = async (model: UNet<GpuTensor>) => env.rt.read(...model.params.slots.map((x) => x.v.value));
    const trained = async (unlabeled: (typeof c)[]) => {
      const model = new UNet(env.gpu, tinyUNet(3), 7);
      await selfTrain(model, [a, b], unlabeled, [], o); // no validation: the second half's weights are the result
      return weights(model);
    };
    const cLabels = c.labels!.slice();
    const withTrue = await trained([a, b, c, d]);
    assert(
      c.labels!.every((v, i) => v === cLabels[i]),
      'the unlabeled volume keeps its own labels',
    );
    // the unlabeled volumes' own labels replaced by nonsense: the same weights, bit for bit
    const scrambled = await trained([
      a,
      b,
      { ...c, labels: c.labels!.map((v) => (v + 1) % 3) },
      { ...d, labels: null },
    ]);
    withTrue.forEach((w, i) =>
      assert(
        w.every((v, j) => Object.is(v, scrambled[i][j])),
        `unlabeled volumes' labels unused (slot ${i})`,
      ),
    );
    // and the pseudo-labeled volumes do change the second half
    const none = await trained([a, b]);
    assert(
      withTrue.some((w, i) => w.some((v, j) => !Object.is(v, none[i][j]))),
      'pseudo-labeled slices are trained on',
    );
    // pseudo-labels: the argmax of the model's softmax, as the GPU's argmax gives it
    const model = new UNet(env.gpu, tinyUNet(3), 11),
      labels = await pseudoLabels(model, c);
    const x = env.gpu.fromHost(c.slices, [c.nz, S, S, 1]),
      gpu = await predictLabels(model, x);
    env.gpu.release(x);
    assert(
      labels.length === c.nz * S * S && labels.every((v, i) => v === gpu[i]) && new Set(labels).size > 1,
      `pseudo-labels ${new Set(labels).size} classes`,
    );
  },
};

const probeCase: TestCase = {
  name: 'experiment: the partition probe: 1-NN retrieval against hand-computed values; embeddings of the sampled slices in one batch',
  async run(env) {
    // 3 volumes × 2 partitions; every slice's nearest slice of another volume shares its partition except v2 p0's
    // (its nearest is v1 p1, cos 0.0995); same-partition pairs average 0.3767 more cosine than the others (12 each)
    const emb = [
      [1, 0, 0],
      [0, 1, 0],
      [1, 0.1, 0],
      [0, 1, 0.1],
      [0, 0, 1],
      [0, 0.2, 1],
    ].map((v) => new Float32Array(v));
    const r = partitionRetrieval(emb, [0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1]);
    assert(
      r.slices === 6 &&
        close(r.accuracy, 5 / 6, 1e-12) &&
        close(r.chance, 0.5, 1e-12) &&
        close(r.margin, 0.376731, 1e-5),
      JSON.stringify(r),
    );
    let alone = '';
    try {
      partitionRetrieval(emb.slice(0, 2), [0, 0], [0, 1]);
    } catch (e) {
      alone = String(e);
    }
    assert(alone.includes('at least two volumes'), 'one volume has nothing to retrieve');
    assert(
      [0, 1, 2, 3, 4, 5, 6].map((z) => partitionOf(z, 7, 3)).join() === '0,0,1,1,2,2,',
      'partitions of 7 slices into 3: the last one unused',
    );
    // two volumes, the second a copy of the first: with batch statistics over the whole set, copies embed alike
    const S = 16,
      P = S * S,
      rng = new Rng(4),
      slices = Float32Array.from({ length: 5 * P }, () => rng.next());
    const vols = [
      { slices, nz: 5 },
      { slices, nz: 5 },
    ];
    const model = new UNet(env.gpu, tinyUNet(3), 2, { global: { inputSize: S } });
    const e = await sliceEmbeddings(model, vols, S, 2);
    assert(
      e.volume.join() === '0,0,0,0,1,1,1,1' &&
        e.partition.join() === '0,0,1,1,0,0,1,1' &&
        e.levels.length === 2 &&
        e.levels[1].length === 8,
      `sampled slices ${e.volume} ${e.partition}, ${e.levels.length} levels`,
    );
    const eq = (a: ArrayLike<number>, b: ArrayLike<number>) =>
      a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));
    const [top, bottleneck] = e.levels;
    assert(
      top[0].length === 16 * 16 * 8 &&
        bottleneck[0].length === 8 * 8 * 16 &&
        e.head[0].length > 0 &&
        eq(bottleneck[1], bottleneck[5]) &&
        eq(top[3], top[7]) &&
        eq(e.head[2], e.head[6]) &&
        !eq(bottleneck[0], bottleneck[1]),
      'a copied slice embeds as its original, another slice does not',
    );
  },
};

export const experimentCases: TestCase[] = [statsCase, selfTrainingCase, probeCase];
/** Node and Deno only: writes under dist/test-results. */
const cellResumeCase: TestCase = {
  name: 'experiment: a cell interrupted mid-fine-tuning resumes from its checkpoint in <out>/cells/ and gives the bits of an uninterrupted run (the same cell on another backend does not take it); its checkpoints go once it is done',
  async run(env) {
    const o = { targetSpacing: 8, size: 32, biasField: true };
    const vols: Awaited<ReturnType<typeof prepareVolume>>[] = [];
    for (let i = 0; i < 5; i++) {
      const s = generateSubject(5, i);
      vols.push(await prepareVolume(s.image, s.label, o));
    }
    const said: string[] = [];
    const setup = (out: string, adapter = 'test') => ({
      be: env.wasm,
      out,
      preset: 'smoke',
      classes: ['background', 'RV', 'myocardium', 'LV'],
      train: vols.slice(0, 2),
      val: vols.slice(2, 3),
      test: vols.slice(3),
      unlabeled: vols.slice(0, 3),
      provenance: { commit: 'test', adapter, runtime: 'test', dataset: 'phantom resume test' },
      log: (line: string) => {
        said.push(line);
      },
    });
    const fs = await nodeFs(),
      files = async (dir: string) => (await fs.readdir(dir)).sort();
    // 12 iterations, validated every 3 (smoke): stopped at 7, between two validations
    const req = { methods: ['GD'], labeled: [1], runs: 1, iterations: 12 },
      base = `dist/test-results/experiment-resume-${Date.now().toString(36)}`;
    const whole = await runExperiment(setup(`${base}-whole`), req);
    const out = `${base}-resumed`,
      cells = `${out}/cells`;
    const stopped = await runExperiment(setup(out), { ...req, interruptAfter: 7 });
    const left = await files(cells),
      named = /^smoke-GD-1-run1\.([0-9a-f]{8})\.(best|last)\.safetensors$/;
    assert(
      stopped.length === 0 && left.length === 2 && left.every((f) => named.test(f)),
      `interrupted: no row, and the cell's checkpoints left (${stopped.length} rows; ${left.join(', ')})`,
    );
    const last = `${cells}/${left[1]}`;
    const { meta } = decodeSafetensors(await readFileBytes(last), 'cell checkpoint');
    const iteration = JSON.parse(meta.glocal).iteration;
    assert(iteration === 7, `the checkpoint is of iteration ${iteration}, expected 7`);
    // the same cell on another backend (other rounding) must not take that state: it starts anew, in files of its own
    said.length = 0;
    await runExperiment(setup(out, 'another backend'), { ...req, interruptAfter: 4 });
    const other = (await files(cells)).filter((f) => !left.includes(f));
    assert(
      !said.some((l) => l.includes('resuming')) && other.length === 2,
      `another backend's run resumed or shared the checkpoints: ${said.join(' | ')}; ${other.join(', ')}`,
    );
    // its best weights gone while the checkpoint records a best: refused, naming the file, before any training
    const bestFile = `${cells}/${left[0]}`,
      bestBytes = await readFileBytes(bestFile);
    await fs.rm(bestFile);
    const refusal = await runExperiment(setup(out), req).then(
      () => 'no error',
      (e: Error) => e.message,
    );
    assert(
      refusal.includes(`its best weights (${bestFile}) are missing`) && refusal.includes(last),
      `a cell without its best weights: ${refusal}`,
    );
    // a best file of another iteration than the checkpoint's best (here the last state itself): refused too
    await fs.writeFile(bestFile, await readFileBytes(last));
    const stale = await runExperiment(setup(out), req).then(
      () => 'no error',
      (e: Error) => e.message,
    );
    assert(
      stale.includes(`${bestFile}: holds the weights of iteration 7, but ${last} records its best at iteration 6`),
      `a cell with another iteration's best file: ${stale}`,
    );
    await fs.writeFile(bestFile, bestBytes);
    said.length = 0;
    const resumed = await runExperiment(setup(out), req);
    // a restart from scratch would give the same bits too: the log says the checkpoint was taken
    assert(
      said.some((l) => l.includes(`resuming from ${last}`)),
      `the second run did not resume the cell: ${said.join(' | ')}`,
    );
    assert(
      resumed.length === 1 &&
        whole.length === 1 &&
        resumed[0].dice.every((d, k) => Object.is(d, whole[0].dice[k])) &&
        Object.is(resumed[0].meanFg, whole[0].meanFg),
      `resumed Dice ${resumed[0]?.dice} vs uninterrupted ${whole[0]?.dice}`,
    );
    const after = await files(cells);
    assert(after.join() === other.join(), `the finished cell left checkpoints behind: ${after.join(', ')}`);
    // the other backend's checkpoints stay (another runner may resume them), and the log names them
    assert(
      said.some((l) => l.includes(`holds 2 cell checkpoint file(s) this grid does not resume: ${other.join(', ')}`)),
      `the other backend's checkpoints are not reported: ${said.join(' | ')}`,
    );
  },
};

export const experimentFileCases: TestCase[] = [experimentFileCase, cellResumeCase];
