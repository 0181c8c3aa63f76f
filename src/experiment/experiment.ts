// The experiment of the paper's Table 1 (paper-spec §7, §9): pre-train once per method, fine-tune per
// labeled-set size and run (a run = a seed and a draw of which volumes are labeled), evaluate 3-D Dice on the
// held-out test volumes, one CSV row per fine-tuning. Cells already in the CSV are skipped, pre-training stages
// resume from their last checkpoint, so an interrupted experiment continues where it stopped. Files go through
// io/files.ts (Node and Deno).

import type { Backend } from '../ops/backend.ts';
import { UNet, paperUNet, type UNetConfig } from '../model/unet.ts';
import type { PreparedVolume } from '../data/pipeline.ts';
import {
  finetune,
  evaluateVolumes,
  meanOf,
  overlapBatches,
  predictLabels,
  slicesThatFit,
  PAPER_FINETUNE,
  type FinetuneOptions,
  type VolumeScore,
} from '../train/finetune.ts';
import { loadParams, saveParams } from '../train/checkpoint.ts';
import { PAPER_PRETRAIN, loadPretrained } from '../contrastive/pretrain.ts';
import {
  PRETRAIN_SEED,
  type StageSpec,
  fileStageStore,
  runStages,
  stageIterations,
  stageOptions,
} from '../contrastive/stages.ts';
import type { GlobalStrategy, LocalStrategy } from '../contrastive/batches.ts';
import { PRETEXT_TASKS, type PretextTask } from '../contrastive/pretext.ts';
import {
  fileExists,
  joinPath as join,
  listNames,
  makeDir,
  readFileBytes,
  readText,
  removeFile,
  withFileLock,
  writeFileAtomic,
} from '../io/files.ts';
import type { CheckpointHooks } from '../train/iterate.ts';
import { fnv1a } from '../data/phantom.ts';
import { Rng } from '../util/random.ts';
import { type Preset, presetNamed, gridOf, describeGrid } from '../presets.ts';
import { CEILING, CLAIM_CEILING, ceilingScores } from './ceiling.ts';
import {
  BENCHMARK,
  type LabeledDraw,
  type ResultRow,
  csvHeader,
  csvLine,
  markdownTable,
  parseCsv,
  svgPlot,
} from './report.ts';

/** Sizes of an experiment: the network grid, fine-tuning and pre-training budgets (the same for every method). */
export type ExperimentPreset = Preset;

/**
 * A preset's definition as 8 hex digits: each result row records it (`preset_def`). The grid rule is part of it:
 * rows made before the preset decided the grid (when a dataset's spacing could override it) hash differently.
 */
export const presetDefinition = (p: ExperimentPreset) => fnv1a(JSON.stringify({ ...p, grid: GRID_RULE }));

/** Written into every preset definition and preset.json: the grid is the preset's (or explicit options), never the dataset's. */
export const GRID_RULE = 'preset-or-explicit';

/** A method: an optional global stage and local stage after it, or a pretext task; Mixup in fine-tuning or not. */
export interface Method {
  name: string;
  global: GlobalStrategy | null;
  local: LocalStrategy | null;
  pretext: PretextTask | null;
  mixup: boolean;
  /** '+self': self-training with pseudo-labels (selfTrain below) */
  selfTraining: boolean;
  /** 'LDx': L^D with same-position negatives from other partitions (a deviation; terms.ts localDTerms) */
  crossPartition: boolean;
  /** 'GD+LD/k': fine-tuning takes only decoder blocks 1..k of the local stage (a diagnostic; default all l) */
  transferBlocks: number | null;
  /** 'GD+LD@n': the local stage runs n iterations instead of the preset's (a diagnostic; 0 hands on its init) */
  localIterations: number | null;
  /** '+frozen': fine-tuning leaves the encoder's weights as pre-training left them (a diagnostic; BN still in training mode) */
  frozenEncoder: boolean;
}

/**
 * 'random', 'GR', 'GD-', 'GD', 'GD+LR', 'GD+LD', 'GD+LDx', the pretext baselines 'rotation', 'restoration',
 * 'inpainting', each optionally '+mixup' and then '+self' (self-training); 'benchmark' = random init on every labeled volume. Two diagnostics for
 * local methods: '/k' (e.g. 'GD+LD/1'): the same pre-training, but fine-tuning starts from decoder blocks 1..k
 * only; '@n' (e.g. 'GD+LD@0'): the local stage stops after n iterations (0: its decoder init is handed on untrained).
 */
export function parseMethod(name: string): Method {
  const diag = /^(.+\+L[A-Za-z]+)(?:@(\d+))?(?:\/(\d+))?((?:\+mixup)?(?:\+self)?)$/.exec(name);
  if (diag && (diag[2] !== undefined || diag[3] !== undefined)) {
    const k = diag[3] === undefined ? null : Number(diag[3]),
      l = PAPER_PRETRAIN.LD.block;
    if (k !== null && k > l)
      throw new Error(`method '${name}': the local stage trains decoder blocks 1..${l}, so /${k} is not possible`);
    return {
      ...parseMethod(diag[1] + diag[4]),
      name,
      transferBlocks: k,
      localIterations: diag[2] === undefined ? null : Number(diag[2]),
    };
  }
  const parts = name.split('+');
  const selfTraining = parts[parts.length - 1] === 'self';
  if (selfTraining) parts.pop();
  const mixup = parts[parts.length - 1] === 'mixup';
  if (mixup) parts.pop();
  const frozenEncoder = parts[parts.length - 1] === 'frozen';
  if (frozenEncoder) parts.pop();
  const [g, l, ...rest] = parts;
  const globals = ['GR', 'GD-', 'GD'],
    locals = ['LR', 'LD', 'LDx'],
    pretexts: string[] = PRETEXT_TASKS;
  const known = g === 'random' || g === 'benchmark' || globals.includes(g) || pretexts.includes(g);
  if (
    rest.length ||
    !known ||
    (g === 'benchmark' && (mixup || selfTraining || frozenEncoder)) ||
    (l !== undefined && (!locals.includes(l) || !globals.includes(g)))
  ) {
    throw new Error(
      `unknown method '${name}' (random, GR, GD-, GD, GD+LR, GD+LD, GD+LDx, rotation, restoration, inpainting, each optionally +frozen, then +mixup, then +self; benchmark)`,
    );
  }
  return {
    name,
    global: globals.includes(g) ? (g as GlobalStrategy) : null,
    local: l === undefined ? null : (l.slice(0, 2) as LocalStrategy),
    pretext: pretexts.includes(g) ? (g as PretextTask) : null,
    mixup,
    selfTraining,
    crossPartition: l === 'LDx',
    transferBlocks: null,
    localIterations: null,
    frozenEncoder,
  };
}

export interface ExperimentSetup<T> {
  be: Backend<T>;
  out: string;
  preset: string;
  /** the preset with its grid as the command decided it (presets.ts withGrid); default: the named preset */
  definition?: ExperimentPreset;
  classes: string[];
  /** labeled training volumes to draw from, validation and test volumes, unlabeled volumes for pre-training */
  train: PreparedVolume[];
  val: PreparedVolume[];
  test: PreparedVolume[];
  unlabeled: PreparedVolume[];
  provenance: { commit: string; adapter: string; runtime: string; dataset: string };
  /** progress lines; a returned promise is awaited after each finished cell */
  log: (line: string) => void | Promise<void>;
}

/**
 * `init`: where the fine-tuned network's random weights (everything pre-training does not hand on) come from.
 * 'fixed' (the default): seed 1 in every run, the pre-training's own seed, so within a run two methods differ only
 * in what pre-training changed; a run varies the labeled draw and fine-tuning's sampling and augmentation.
 * 'run': the run's seed, as before this option existed. There a local stage's decoder blocks, drawn once (seed 1)
 * for all runs, are compared with G^D's per-run draws, so that one draw's luck enters every comparison
 * (docs/experiments.md measures it with the untrained 'GD+LD@0').
 */
export interface ExperimentRequest {
  methods: string[];
  labeled: number[];
  runs: number;
  init?: 'fixed' | 'run';
  /** the cells' runs are firstRun..runs (default 1): several runners, each on its own range, share a GPU */
  firstRun?: number;
  /** compute no cell: write the table and plot of the rows the folder holds (after runners in other folders, merged) */
  reportOnly?: boolean;
  /** save each computed cell's fine-tuned network to <out>/models/ (for `glocal probe`) */
  keepModels?: boolean;
  /** how runs draw their labeled volumes (drawLabeled; default 'independent'); rows of the other kind are other cells */
  draw?: LabeledDraw;
  /** fine-tuning iterations instead of the preset's: the definition (rows' preset_def) changes, the checkpoints serve */
  iterations?: number;
  /**
   * pre-training seeds 1..N (default 1): every pre-trained stage is trained N times, and every run is fine-tuned
   * from each; under init 'fixed' seed s also initialises the fine-tuned network, random init's included, so a
   * run's cells pair within each seed
   */
  pretrainSeeds?: number;
  /**
   * tests: the first cell computed stops its fine-tuning after this many iterations, as a killed run would (its
   * checkpoint in <out>/cells/ kept), and the runner returns without its row; the next run resumes that cell
   */
  interruptAfter?: number;
}

/** Where --keep-models puts a cell's fine-tuned network. */
export const cellModelPath = (
  out: string,
  preset: string,
  method: string,
  labeled: number,
  run: number,
  pretrainSeed = PRETRAIN_SEED,
) =>
  join(
    out,
    'models',
    `${preset}-${method.replace(/[^A-Za-z0-9+@.-]/g, '_')}-${labeled}-run${run}${pretrainSeed === PRETRAIN_SEED ? '' : `-seed${pretrainSeed}`}.safetensors`,
  );

/** Pre-training checkpoints of a preset and seed: pretrain/<preset>/ for seed 1 (as before seeds), then seed<k>/ below it. */
const presetDir = (s: ExperimentSetup<unknown>) => join(s.out, 'pretrain', s.preset);
const stageDir = (s: ExperimentSetup<unknown>, seed: number) =>
  seed === PRETRAIN_SEED ? presetDir(s) : join(presetDir(s), `seed${seed}`);

/** The preset's fields that only fine-tuning reads: the pre-training checkpoints serve every value of them. */
const FINE_TUNING_ONLY = ['batch', 'iterations', 'valEvery'];
const preTrainingPart = (p: object) =>
  JSON.stringify(Object.fromEntries(Object.entries(p).filter(([k]) => !FINE_TUNING_ONLY.includes(k))));

/**
 * A folder's checkpoints of a preset are only valid for the sizes and budgets they were made with: the first run
 * writes the preset's definition beside its checkpoints, and a later run whose pre-training part differs (a changed
 * preset) stops instead of mixing both. Fine-tuning budgets may differ (--iterations): their rows carry their own
 * preset_def and are tabled apart.
 */
async function checkPresetUnchanged(s: ExperimentSetup<unknown>, p: ExperimentPreset): Promise<void> {
  // the grid rule goes into the file: checkpoints pre-trained before it (on a dataset's grid) are refused
  const file = join(presetDir(s), 'preset.json'),
    now = JSON.stringify({ ...p, grid: GRID_RULE });
  if (!(await fileExists(file))) return writeFileAtomic(file, `${now}\n`);
  const before = (await readText(file)).trim();
  let same: boolean;
  try {
    same = preTrainingPart(JSON.parse(before) as object) === preTrainingPart(JSON.parse(now) as object);
  } catch {
    same = false;
  }
  if (!same) {
    throw new Error(
      `${file}: this folder's '${s.preset}' checkpoints were pre-trained with ${before}; the preset is now ${now}. ` +
        'Use a fresh --out (or remove that folder) to run the preset as it is now.',
    );
  }
}

/** A method's pre-training stages at a preset (none for random init): named by their files in the stage folder. */
function methodStages(p: ExperimentPreset, m: Method, seed: number): StageSpec[] {
  if (m.pretext)
    return [
      { name: m.pretext, pretext: { task: m.pretext, iterations: p.pretrainIterations, batch: p.gBatch * 2, seed } },
    ];
  if (!m.global) return [];
  const stages: StageSpec[] = [
    { name: m.global, pretrain: { ...stageOptions(m.global, p, seed), crossPartition: m.crossPartition } },
  ];
  if (m.local) {
    const it = m.localIterations === null ? {} : { iterations: m.localIterations };
    stages.push({
      name: `${m.global}+${m.local}${m.crossPartition ? 'x' : ''}${m.localIterations === null ? '' : `@${m.localIterations}`}`,
      pretrain: { ...stageOptions(m.local, p, seed), crossPartition: m.crossPartition, ...it },
    });
  }
  return stages;
}

/** Pre-train (stage 1, then stage 2 if the method has one), resuming; returns the checkpoint fine-tuning starts from. */
async function pretrained<T>(
  s: ExperimentSetup<T>,
  p: ExperimentPreset,
  cfg: UNetConfig,
  m: Method,
  seed: number,
): Promise<{ bytes: Uint8Array; after: 'global' | 'local'; block: number } | null> {
  const stages = methodStages(p, m, seed);
  if (!stages.length) return null;
  const dir = stageDir(s, seed),
    seedTag = seed === PRETRAIN_SEED ? '' : ` (seed ${seed})`,
    label = (st: StageSpec) => ('pretext' in st ? `pretext ${st.name}` : `pre-training ${st.name}${seedTag}`);
  await makeDir(dir);
  const files = fileStageStore(dir, { skipFinished: true, resume: true });
  let t0: number | null = null;
  const { bytes } = await runStages({
    be: s.be,
    cfg,
    size: p.size,
    vols: s.unlabeled.map((v) => ({ slices: v.slices, nz: v.nz, name: v.original.source })),
    stages,
    every: 50,
    store: {
      ...files,
      async finish(name, b, curve) {
        const st = stages.find((x) => x.name === name)!;
        if (t0 !== null) s.log(`  ${label(st)}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        t0 = null;
        await files.finish(name, b, curve);
      },
    },
    onStage: () => {
      t0 = performance.now();
    },
    onProgress: (st, it, loss) => {
      const n = stageIterations(st);
      if (it % 50 === 0 || it === n) s.log(`  ${label(st)}: iteration ${it}/${n}, loss ${loss.toFixed(4)}`);
    },
  });
  if (m.pretext) return { bytes, after: m.pretext === 'rotation' ? 'global' : 'local', block: cfg.decoder.length };
  if (!m.local) return { bytes, after: 'global', block: PAPER_PRETRAIN.LD.block };
  return { bytes, after: 'local', block: m.transferBlocks ?? PAPER_PRETRAIN.LD.block };
}

/**
 * Self-training with pseudo-labels, the semi-supervised comparison the paper's abstract names (paper-spec §9: the
 * released code has none, so this is our design). The fine-tuning budget is the other methods': half of it on the
 * labeled volumes; then the best network so far labels every unlabeled volume (argmax at network resolution) and
 * the other half trains on the labeled and pseudo-labeled slices together, sampled alike. The final network is
 * the better of the two halves' best on validation.
 */
export async function selfTrain<T>(
  model: UNet<T>,
  labeled: PreparedVolume[],
  unlabeled: PreparedVolume[],
  val: PreparedVolume[],
  o: FinetuneOptions,
): Promise<SelfTrainingSummary> {
  const half = Math.max(1, Math.floor(o.iterations / 2));
  const first = await finetune(model, labeled, val, { ...o, iterations: half });
  const firstBytes = await saveParams(model.params, {
    stage: 'finetune',
    iteration: first.bestIteration,
    bestValDice: first.best,
    config: null,
    state: null,
  });
  const mine = new Set(labeled),
    pseudo: PreparedVolume[] = [];
  for (const v of unlabeled) if (!mine.has(v)) pseudo.push({ ...v, labels: await pseudoLabels(model, v) });
  // a seed of its own: the second half does not replay the first half's sampling and augmentation draws
  const second = await finetune(model, [...labeled, ...pseudo], val, {
    ...o,
    iterations: o.iterations - half,
    seed: o.seed + 1_000_000,
  });
  const kept = second.best < first.best ? 'first' : 'second';
  if (kept === 'first') loadParams(model.params, firstBytes, "self-training: the first half's best");
  return {
    first: { best: first.best, iteration: first.bestIteration },
    second: { best: second.best, iteration: half + second.bestIteration },
    pseudoLabeled: pseudo.length,
    kept,
  };
}

/** Each half's best validation Dice and where it fell (iterations counted over the whole budget). */
export interface SelfTrainingSummary {
  first: { best: number; iteration: number };
  second: { best: number; iteration: number };
  pseudoLabeled: number;
  kept: 'first' | 'second';
}

/** A volume's labels as the model predicts them at network resolution (BN in inference mode, the GPU's argmax): nz·S·S class indices. */
export async function pseudoLabels<T>(model: UNet<T>, v: PreparedVolume): Promise<Float32Array> {
  const be = model.be,
    S = v.geometry.network[0],
    P = S * S,
    out = new Float32Array(v.nz * P);
  const batch = Math.min(8, slicesThatFit(model, S, 'inference')); // slices are independent: any split is exact
  const start = (z0: number, n: number) => {
    const x = be.fromHost(v.slices.subarray(z0 * P, (z0 + n) * P), [n, S, S, 1]);
    try {
      return predictLabels(model, x);
    } finally {
      be.release(x); // the forward pass is recorded: the next batch's upload may reuse its buffer
    }
  };
  await overlapBatches(v.nz, batch, start, (labels, z0) => out.set(labels, z0 * P));
  return out;
}

/**
 * Which volumes a run labels. 'independent': a shuffle of the training pool seeded by the run, the first n (runs may
 * share volumes when n is small against the pool). 'disjoint': runs go in
 * rounds of ⌊pool/n⌋; each round shuffles the pool once and gives its runs consecutive, non-overlapping blocks of n,
 * so no volume repeats within a round.
 */
export function drawLabeled(
  pool: number,
  n: number,
  labeledCount: number,
  run: number,
  kind: LabeledDraw = 'independent',
): number[] {
  const shuffled = (rng: Rng) => {
    const order = Array.from({ length: pool }, (_, i) => i);
    for (let i = pool - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  };
  if (kind === 'independent') return shuffled(new Rng(1000 * labeledCount + run)).slice(0, n);
  const perRound = Math.max(1, Math.floor(pool / n)),
    round = Math.floor((run - 1) / perRound),
    slot = (run - 1) % perRound;
  // seeds apart from the independent draws' (1000 · count + run)
  return shuffled(new Rng(1_000_003 * (round + 1) + labeledCount)).slice(slot * n, slot * n + n);
}

/** A cell's identity in the CSV: rows with the same key (and preset definition) are the same fine-tuning. */
type CellKey = Pick<ResultRow, 'preset' | 'dataset' | 'method' | 'labeled' | 'run' | 'init' | 'draw' | 'pretrainSeed'>;
const cellKey = (r: CellKey) =>
  [r.preset, r.dataset, r.method, r.labeled, r.run, r.init, r.draw, r.pretrainSeed].join('|');
const rowKey = (r: ResultRow) => `${cellKey(r)}|${r.presetDef}`;

/** What a request asks for, checked before any file is touched: the preset, its definition, methods and seeds. */
interface GridPlan {
  p: ExperimentPreset;
  def: string;
  cfg: UNetConfig;
  methods: Method[];
  seeds: number;
  /** the fine-tuned network's init seed for a run and pre-training seed (ExperimentRequest.init) */
  initSeed: (run: number, pretrainSeed: number) => number;
  /** how n labeled volumes are drawn */
  drawOf: (n: number) => LabeledDraw;
  /** a row made under this definition of the preset */
  sameDef: (r: ResultRow) => boolean;
}

function planGrid<T>(s: ExperimentSetup<T>, req: ExperimentRequest): GridPlan {
  const named = s.definition ?? presetNamed(s.preset);
  const seeds = req.pretrainSeeds ?? 1;
  if (!(Number.isInteger(seeds) && seeds >= 1)) throw new Error(`pre-training seeds: a positive integer, got ${seeds}`);
  if (req.iterations !== undefined && !(Number.isInteger(req.iterations) && req.iterations >= 1))
    throw new Error(`fine-tuning iterations: a positive integer, got ${req.iterations}`);
  const p: ExperimentPreset = { ...named, iterations: req.iterations ?? named.iterations };
  const methods = req.methods.map(parseMethod);
  // a draw of the whole pool (the benchmark) labels the same volumes either way: it keeps the independent order,
  // so one benchmark row serves both kinds
  const draw = req.draw ?? 'independent';
  // a row made under another definition of this preset name (another folder's, or one from before the grid rule)
  // is no finished cell
  const def = presetDefinition(p);
  return {
    p,
    def,
    cfg: paperUNet(s.classes.length, p.width),
    methods,
    seeds,
    initSeed: (run, pretrainSeed) => ((req.init ?? 'fixed') === 'fixed' ? pretrainSeed : run),
    drawOf: (n) => (n >= s.train.length ? 'independent' : draw),
    sameDef: (r) => r.presetDef === def,
  };
}

/**
 * The folder's experiment.csv: its rows, and save(), which merges rows other runners wrote since and rewrites it.
 * Opening writes the file in this version's columns at once, so that a runner stopped before its first cell still
 * leaves one that scripts/experiment-parallel.sh can merge line by line with the others'.
 */
async function openResults<T>(s: ExperimentSetup<T>, g: GridPlan) {
  const csvPath = join(s.out, 'experiment.csv');
  const rows: ResultRow[] = (await fileExists(csvPath)) ? parseCsv(await readText(csvPath), csvPath) : [];
  const save = () =>
    withFileLock(csvPath, async () => {
      // another runner may share the folder (other methods or presets): keep the rows it wrote since we read the
      // file; the lock keeps two runners' read-merge-writes from interleaving
      const ours = new Set(rows.map(rowKey));
      if (await fileExists(csvPath))
        for (const r of parseCsv(await readText(csvPath), csvPath)) if (!ours.has(rowKey(r))) rows.push(r);
      await writeFileAtomic(
        csvPath,
        new TextEncoder().encode(`${[csvHeader(s.classes.slice(1)), ...rows.map(csvLine)].join('\n')}\n`),
      );
    });
  const otherDef = rows.filter((r) => r.preset === s.preset && !g.sameDef(r)).length;
  if (otherDef)
    await s.log(
      `${csvPath}: ${otherDef} '${s.preset}' rows were made with another definition of the preset (preset_def ≠ ${g.def}); they stay in the file, outside this table, and their cells are computed anew`,
    );
  await save();
  return { rows, save };
}

/** The grid's cells, run-major: a grid stopped part-way (it spans sessions on CPUs) leaves whole runs, every method of each paired. */
function gridCells<T>(s: ExperimentSetup<T>, req: ExperimentRequest, g: GridPlan) {
  const cells: { m: Method; n: number; run: number; seed: number }[] = [];
  for (let run = req.firstRun ?? 1; run <= req.runs; run++)
    for (let seed = PRETRAIN_SEED; seed < PRETRAIN_SEED + g.seeds; seed++)
      for (const m of g.methods)
        for (const n of m.name === 'benchmark' ? [s.train.length] : req.labeled) cells.push({ m, n, run, seed });
  return cells;
}

/** Run every cell not yet in the CSV (or, report only, name it), saving after each; then say what was kept or left. */
async function runMissingCells<T>(
  s: ExperimentSetup<T>,
  req: ExperimentRequest,
  g: GridPlan,
  results: { rows: ResultRow[]; save: () => Promise<void> },
): Promise<void> {
  const { rows, save } = results;
  const otherCommits = new Set<string>(),
    missing: string[] = [];
  let interrupted = false;
  for (const { m, n, run, seed } of gridCells(s, req, g)) {
    const name = m.name === 'benchmark' ? BENCHMARK : m.name;
    const key = {
      preset: s.preset,
      dataset: s.provenance.dataset,
      method: name,
      labeled: n,
      run,
      init: g.initSeed(run, seed),
      draw: g.drawOf(n),
      pretrainSeed: seed,
    };
    const finished = rows.find((r) => g.sameDef(r) && cellKey(r) === cellKey(key));
    if (finished) {
      if (finished.commit !== s.provenance.commit) otherCommits.add(finished.commit);
      continue;
    }
    const what = `${name}, ${n} labeled, run ${run}${g.seeds > 1 ? `, pre-training seed ${seed}` : ''}`;
    if (req.reportOnly) {
      missing.push(what);
      continue;
    }
    if (n > s.train.length)
      throw new Error(`${n} labeled volumes asked, the dataset has ${s.train.length} labeled training volumes`);
    const row = await runCell(s, g.p, g.cfg, m, {
      ...key,
      def: g.def,
      keepModels: req.keepModels ?? false,
      interruptAfter: req.interruptAfter,
    });
    if (!row) {
      await s.log(`${what}: interrupted after ${req.interruptAfter} iterations; its checkpoint resumes it`);
      interrupted = true;
      break;
    }
    rows.push(row);
    await save();
    await s.log(`${what}: mean foreground Dice ${row.meanFg.toFixed(3)} (${row.seconds} s)`);
  }
  await save();
  if (missing.length) await s.log(`not in the table (report only, no row yet): ${missing.join(', ')}`);
  const others = req.reportOnly || interrupted ? [] : await listNames(join(s.out, 'cells'));
  // every cell of this grid is done and cleared its own: these belong to other settings (their key differs), to a
  // runner still at work in this folder, or to names from before the key; nothing here removes them
  if (others.length)
    await s.log(
      `${join(s.out, 'cells')} holds ${others.length} cell checkpoint file(s) this grid does not resume: ${others.join(', ')}; remove them once no run of their settings will continue`,
    );
  // kernels that change the order of additions change a run's bits: say where kept cells came from
  if (otherCommits.size)
    await s.log(
      `finished cells kept from other commits (${[...otherCommits].join(', ')}); a fresh --out recomputes every cell with this code`,
    );
}

/**
 * A cell's fine-tuning checkpoints in <out>/cells/: the state at its last validation, and the best weights so far.
 * A grid killed mid-cell (as at a session's end) resumes that cell from them, bit for bit, instead of starting it
 * again; `clear` removes them once the cell is done. A resumed cell's `seconds` counts this run's time only.
 */
async function cellCheckpoints(
  s: ExperimentSetup<unknown>,
  c: {
    method: string;
    labeled: number;
    run: number;
    pretrainSeed: number;
    def: string;
    draw: LabeledDraw;
    init: number;
  },
  every: number,
  interruptAfter?: number,
): Promise<CheckpointHooks & { clear(): Promise<void> }> {
  // the name holds a hash of what else decides the cell's bits (the preset definition, the draw, the init, the
  // dataset and the backend as the row records it, threads included), so a cell of another definition or rounding
  // never resumes from this one's state
  const key = fnv1a(JSON.stringify([c.def, c.draw, c.init, s.provenance.dataset, s.provenance.adapter]));
  const dir = join(s.out, 'cells'),
    name = cellModelPath('', s.preset, c.method, c.labeled, c.run, c.pretrainSeed).split('/').pop()!;
  const last = join(dir, name.replace(/\.safetensors$/, `.${key}.last.safetensors`)),
    best = join(dir, name.replace(/\.safetensors$/, `.${key}.best.safetensors`));
  await makeDir(dir);
  let resume: CheckpointHooks['resume'];
  if (await fileExists(last)) {
    const bestBytes = (await fileExists(best)) ? await readFileBytes(best) : undefined;
    resume = { bytes: await readFileBytes(last), source: last, best: bestBytes, bestSource: best };
    await s.log(`  ${c.method}, run ${c.run}: resuming from ${last}`);
  }
  let steps = 0;
  return {
    every,
    resume,
    save: (bytes) => writeFileAtomic(last, bytes),
    saveBest: (bytes) => writeFileAtomic(best, bytes),
    stop: interruptAfter === undefined ? undefined : () => ++steps >= interruptAfter,
    clear: async () => {
      await removeFile(last);
      await removeFile(best);
    },
  };
}

/** Run every missing cell, then rewrite the CSV, the Markdown table and the plot. */
export async function runExperiment<T>(s: ExperimentSetup<T>, req: ExperimentRequest): Promise<ResultRow[]> {
  const g = planGrid(s, req);
  await makeDir(presetDir(s));
  await checkPresetUnchanged(s, g.p);
  const results = await openResults(s, g);
  const { rows } = results;
  if (
    !req.reportOnly &&
    !rows.some(
      (r) => g.sameDef(r) && r.method === CEILING && r.dataset === s.provenance.dataset && r.preset === s.preset,
    )
  ) {
    rows.push(await ceilingRow(s, g.p, g.def));
    await results.save();
  }
  await runMissingCells(s, req, g, results);
  const mine = rows.filter(
    (r) =>
      r.preset === s.preset &&
      g.sameDef(r) &&
      r.dataset === s.provenance.dataset &&
      (r.method === CEILING ||
        (r.init === g.initSeed(r.run, r.pretrainSeed) &&
          r.draw === g.drawOf(r.labeled) &&
          r.pretrainSeed < PRETRAIN_SEED + g.seeds &&
          r.run <= req.runs)),
  );
  // the table: the methods asked for (and the benchmark, which the gap column needs), not every row the folder holds
  const table = mine.filter((r) => r.method === CEILING || asked(g.methods).has(r.method));
  await writeReport(s, g.p, g.def, req, table);
  return table.filter((r) => r.method !== CEILING);
}

/** The methods asked for, and the benchmark, which the gap column needs. */
const asked = (methods: Method[]) => new Set([BENCHMARK, ...methods.map((m) => m.name)]);

/** One fine-tuning: pre-train if needed (resuming), draw the labeled volumes, fine-tune, evaluate on the test volumes. */
async function runCell<T>(
  s: ExperimentSetup<T>,
  p: ExperimentPreset,
  cfg: UNetConfig,
  m: Method,
  c: {
    method: string;
    labeled: number;
    run: number;
    init: number;
    draw: LabeledDraw;
    pretrainSeed: number;
    def: string;
    keepModels: boolean;
    interruptAfter?: number;
  },
): Promise<ResultRow | null> {
  const init = await pretrained(s, p, cfg, m, c.pretrainSeed);
  const picked = drawLabeled(s.train.length, c.labeled, c.labeled, c.run, c.draw).map((i) => s.train[i]);
  const model = new UNet(s.be, cfg, c.init);
  if (init) loadPretrained(model, init.bytes, `pre-training of ${m.name}`, init.after, init.block);
  if (m.frozenEncoder) model.setTrainable((w) => w.startsWith('enc'), false);
  const t0 = performance.now();
  const opts = {
    ...PAPER_FINETUNE,
    iterations: p.iterations,
    batch: p.batch,
    valEvery: p.valEvery,
    seed: c.run,
    augment: { ...PAPER_FINETUNE.augment, mixup: m.mixup ? 0.1 : null },
  };
  if (m.selfTraining) {
    const st = await selfTrain(model, picked, s.unlabeled, s.val, opts);
    await s.log(
      `  self-training: labeled only, best validation Dice ${st.first.best.toFixed(3)} at iteration ${st.first.iteration}; ` +
        `with ${st.pseudoLabeled} pseudo-labeled volumes ${st.second.best.toFixed(3)} at ${st.second.iteration}; kept the ${st.kept} half`,
    );
  } else {
    const ckpt = await cellCheckpoints(s, c, p.valEvery, c.interruptAfter);
    if ((await finetune(model, picked, s.val, opts, () => {}, ckpt)).stopped) return null;
    await ckpt.clear();
  }
  if (c.keepModels) await saveCellModel(s, p, model, c);
  const scores = await evaluateVolumes(model, s.test);
  return {
    ...s.provenance,
    preset: s.preset,
    method: c.method,
    labeled: c.labeled,
    run: c.run,
    seed: c.run,
    volumes: picked.map((v) => v.name).join(';'),
    iterations: p.iterations,
    seconds: Math.round((performance.now() - t0) / 1000),
    ...classMeans(s.classes, scores),
    init: c.init,
    presetDef: c.def,
    draw: c.draw,
    pretrainSeed: c.pretrainSeed,
    ...gridColumns(p),
  };
}

/** `--keep-models`: a cell's fine-tuned weights in <out>/models/, with what produced them. */
async function saveCellModel<T>(
  s: ExperimentSetup<T>,
  p: ExperimentPreset,
  model: UNet<T>,
  c: { method: string; labeled: number; run: number; pretrainSeed: number },
): Promise<void> {
  await makeDir(join(s.out, 'models'));
  const file = cellModelPath(s.out, s.preset, c.method, c.labeled, c.run, c.pretrainSeed);
  const config = {
    unet: model.config,
    method: c.method,
    labeled: c.labeled,
    run: c.run,
    pretrainSeed: c.pretrainSeed,
    grid: gridOf(p),
  };
  const meta = { stage: 'experiment-finetune', iteration: p.iterations, bestValDice: null, config, state: null };
  await writeFileAtomic(file, await saveParams(model.params, meta));
}

const finiteMean = (xs: number[]) => meanOf(xs.filter(Number.isFinite));

/** Per-class means over test volumes of Dice and HD95, and their means over classes. */
function classMeans(
  classes: string[],
  scores: VolumeScore[],
): Pick<ResultRow, 'dice' | 'meanFg' | 'hd95' | 'meanHd95'> {
  return {
    dice: classes.slice(1).map((_, k) => finiteMean(scores.map((x) => x.dice[k + 1]))),
    meanFg: meanOf(scores.map((x) => x.meanForeground)),
    hd95: classes.slice(1).map((_, k) => finiteMean(scores.map((x) => x.hd95[k + 1]))),
    meanHd95: finiteMean(scores.map((x) => finiteMean(x.hd95.slice(1)))),
  };
}

const gridColumns = (p: ExperimentPreset) => {
  const g = gridOf(p);
  return { size: g.size, spacing: g.spacing, fovMm: g.fovMm, width: p.width };
};

/** The ceiling's row: the test volumes' ground truth through the grid and back (experiment/ceiling.ts). */
async function ceilingRow<T>(s: ExperimentSetup<T>, p: ExperimentPreset, def: string): Promise<ResultRow> {
  const t0 = performance.now(),
    scores = await ceilingScores(s.test, s.classes.length);
  const row: ResultRow = {
    ...s.provenance,
    preset: s.preset,
    method: CEILING,
    labeled: 0,
    run: 0,
    seed: 0,
    volumes: s.test.map((v) => v.name).join(';'),
    iterations: 0,
    seconds: Math.round((performance.now() - t0) / 1000),
    ...classMeans(s.classes, scores),
    init: 0,
    presetDef: def,
    draw: 'independent',
    pretrainSeed: 0,
    ...gridColumns(p),
  };
  await s.log(
    `ceiling at ${describeGrid(p)}: ${s.classes
      .slice(1)
      .map((c, k) => `${c} ${row.dice[k].toFixed(3)}`)
      .join(', ')} ` +
      `(the test volumes' ground truth through the grid and back${row.dice.some((d) => d < CLAIM_CEILING) ? `; below ${CLAIM_CEILING}: this grid is not used for a claim` : ''})`,
  );
  return row;
}

/** Where the table's rows were made: each commit and each runtime and engine, with its row count. */
function madeOn(rows: ResultRow[]): string {
  const tally = (key: (r: ResultRow) => string) => {
    const n = new Map<string, number>();
    for (const r of rows) n.set(key(r), (n.get(key(r)) ?? 0) + 1);
    return [...n].map(([k, c]) => `${k} (${c} row${c > 1 ? 's' : ''})`).join(', ');
  };
  return `on commit${new Set(rows.map((r) => r.commit)).size > 1 ? 's' : ''} ${tally((r) => r.commit)}, with ${tally((r) => `${r.runtime}, ${r.adapter}`)}`;
}

async function writeReport<T>(
  s: ExperimentSetup<T>,
  p: ExperimentPreset,
  def: string,
  req: ExperimentRequest,
  mine: ResultRow[],
): Promise<void> {
  // every pre-trained method in the file against random init, G^D+L^D against G^R (the issue's two comparisons),
  // and the paper's steps between them: G^D against G^R, G^D+L^D against G^D
  const present = [...new Set(mine.map((r) => r.method))]
    .filter((n) => n !== BENCHMARK && n !== CEILING)
    .map(parseMethod);
  const pairs: [string, string][] = [];
  for (const m of present) if (m.global || m.pretext) pairs.push([m.name, 'random']);
  const has = (n: string) => present.some((m) => m.name === n);
  for (const m of present)
    if (m.local && !m.mixup) {
      if (has('GR')) pairs.push([m.name, 'GR']);
      if (m.global && has(m.global)) pairs.push([m.name, m.global]); // what the local stage adds
      const full = m.name.replace(/@\d+/, ''); // 'GD+LD@0' → 'GD+LD': what the local stage's iterations add
      if (m.localIterations !== null && has(full)) pairs.push([full, m.name]);
    }
  if (has('GD') && has('GR')) pairs.push(['GD', 'GR']);
  for (const m of present)
    if (m.frozenEncoder) {
      // frozen encoders against G^R's frozen one, and against fine-tuning them
      if (m.name !== 'GR+frozen' && has('GR+frozen')) pairs.push([m.name, 'GR+frozen']);
      if (has(m.name.replace('+frozen', ''))) pairs.push([m.name, m.name.replace('+frozen', '')]);
    }
  for (const m of present) {
    // what self-training adds, and what Mixup adds
    const base = m.selfTraining ? m.name.slice(0, -'+self'.length) : m.name.replace('+mixup', '');
    if ((m.selfTraining || m.mixup) && has(base)) pairs.push([m.name, base]);
  }
  const seeds = req.pretrainSeeds ?? 1;
  const init =
    (req.init ?? 'fixed') === 'fixed'
      ? `every run's network initialised with its pre-training seed (${seeds > 1 ? `1..${seeds}` : PRETRAIN_SEED}) before the pre-trained weights are copied in`
      : "each run's network initialised with the run's seed";
  const md =
    `# Experiment (${s.preset} preset, definition ${def}: ${JSON.stringify(p)})\n\n` +
    `Grid ${describeGrid(p)}; fine-tuning ${p.iterations} iterations of ${p.batch} slices; pre-training ${p.pretrainIterations} iterations per stage, ` +
    `seeds ${seeds > 1 ? `1..${seeds}` : PRETRAIN_SEED}.\n\nDataset ${s.provenance.dataset}; rows made ${madeOn(mine)}; ` +
    `this report written on commit ${s.provenance.commit}; ${init}${req.draw === 'disjoint' ? '; labeled volumes drawn disjoint across the runs of a round' : ''}.\n\n${markdownTable(mine, pairs, s.classes.slice(1))}\n`;
  await writeFileAtomic(join(s.out, 'experiment.md'), new TextEncoder().encode(md));
  await writeFileAtomic(
    join(s.out, 'experiment.svg'),
    new TextEncoder().encode(svgPlot(mine.filter((r) => r.method !== CEILING))),
  );
}
