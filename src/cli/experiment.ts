// glocal experiment: the paper's experiment (experiment/experiment.ts runExperiment): pre-training once per
// method, fine-tuning per labeled count and run, a Dice table in <out>/experiment.md.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fnv1a } from '../data/phantom.ts';
import type { Dataset } from '../data/dataset.ts';
import { runExperiment } from '../experiment/experiment.ts';
import { type GridOverrides, describeGrid, gridOf } from '../presets.ts';
import type { ResultRow } from '../experiment/report.ts';
import { preset, runtime } from './common.ts';
import { experimentData } from './data.ts';
import { byClass } from './json.ts';

/** Set by scripts/build.mjs: the commit the bundle was built from. */
declare const __GLOCAL_COMMIT__: string;

export interface ExperimentArgs extends GridOverrides {
  data?: string;
  out: string;
  preset: string;
  /** labeled volumes per fine-tuning, and the methods (both checked by the wiring) */
  labeled: number[];
  methods: string[];
  runs: number;
  firstRun: number;
  init: 'fixed' | 'run';
  draw: 'independent' | 'disjoint';
  iterations?: number;
  reportOnly?: boolean;
  keepModels?: boolean;
  pretrainSeeds: number;
}

/** The dataset as every result row names it: the phantom's generator, or the layout and a hash of its splits. */
const datasetName = (ds: Dataset) =>
  ds.generator
    ? `phantom ${String(ds.generator.version)} seed ${String(ds.generator.seed)} n ${String(ds.generator.n)}`
    : `${ds.layout} ${fnv1a(JSON.stringify(ds.entries.map((e) => [e.name, e.split])))}`;

/** Mean and sample standard deviation of the runs' mean foreground Dice, per method and labeled count. */
function cells(rows: ResultRow[]) {
  const by = new Map<string, ResultRow[]>();
  for (const r of rows)
    by.set(`${r.method}\u0000${r.labeled}`, [...(by.get(`${r.method}\u0000${r.labeled}`) ?? []), r]);
  return [...by.values()].map((rs) => {
    const d = rs.map((r) => r.meanFg),
      mean = d.reduce((x, y) => x + y, 0) / d.length;
    const std = d.length > 1 ? Math.sqrt(d.reduce((x, y) => x + (y - mean) ** 2, 0) / (d.length - 1)) : null;
    return { method: rs[0].method, labeled: rs[0].labeled, runs: d.length, meanDice: mean, std };
  });
}

/** Runs (or, with --report-only, tables) the experiment; returns what --json prints. */
export async function experiment(a: ExperimentArgs) {
  const p = preset(a.preset, a);
  const { labeled, methods } = a;
  const { ds, train, val, test, unlabeled, classes } = await experimentData(a.data, a.out, a.preset, p);
  const { ob, be } = await runtime();
  console.log(
    `experiment (${a.preset}, ${describeGrid(p)}, fine-tuning ${a.iterations ?? p.iterations} iterations of ${p.batch} slices, ` +
      `pre-training ${p.pretrainIterations} iterations, pre-training seeds 1..${a.pretrainSeeds}, init ${a.init}): ${methods.join(', ')} × ${labeled.join(', ')} labeled × runs ${a.firstRun}–${a.runs}${a.reportOnly ? ' (report only)' : ''}; ` +
      `${train.length} labeled training, ${unlabeled.length} pre-training, ${val.length} validation, ${test.length} test volumes; results in ${a.out}`,
  );
  const provenance = { commit: __GLOCAL_COMMIT__, adapter: ob.description, runtime: 'node', dataset: datasetName(ds) };
  let rows: ResultRow[];
  try {
    rows = await runExperiment(
      {
        be,
        out: a.out,
        preset: a.preset,
        definition: p,
        classes,
        train,
        val,
        test,
        unlabeled,
        log: (l) => console.log(l),
        provenance,
      },
      {
        methods,
        labeled,
        runs: a.runs,
        firstRun: a.firstRun,
        init: a.init,
        draw: a.draw,
        iterations: a.iterations,
        reportOnly: a.reportOnly,
        keepModels: a.keepModels,
        pretrainSeeds: a.pretrainSeeds,
      },
    );
  } finally {
    ob.close();
  }
  console.log(`\n${await readFile(join(a.out, 'experiment.md'), 'utf8')}`);
  const settings = { ...a, data: undefined, out: undefined, size: undefined, spacing: undefined, json: undefined };
  return {
    preset: a.preset,
    grid: gridOf(p),
    width: p.width,
    backend: ob.description,
    dataset: provenance.dataset,
    settings: {
      ...settings,
      iterations: a.iterations ?? p.iterations,
      pretrainIterations: p.pretrainIterations,
      batch: p.batch,
    },
    classes,
    cells: cells(rows),
    rows: rows.map((r) => ({
      method: r.method,
      labeled: r.labeled,
      run: r.run,
      pretrainSeed: r.pretrainSeed,
      volumes: r.volumes,
      iterations: r.iterations,
      seconds: r.seconds,
      dice: byClass(classes.slice(1), r.dice),
      meanDice: r.meanFg,
      hd95: byClass(classes.slice(1), r.hd95),
      meanHd95: r.meanHd95,
    })),
    outputs: {
      out: a.out,
      csv: join(a.out, 'experiment.csv'),
      md: join(a.out, 'experiment.md'),
      svg: join(a.out, 'experiment.svg'),
    },
  };
}
