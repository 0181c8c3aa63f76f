// glocal command line (Node; `deno run -A dist/cli.js` works the same way).
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Backend } from './ops/backend.ts';
import { BACKEND_KINDS, type BackendKind, type OpenedBackend, openBackend } from './ops/open-backend.ts';
import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { scoreLabelMaps } from './data/evaluate.ts';
import { integerOption } from './cli/options.ts';
import { labeledTraining } from './data/splits.ts';
import { checkGeometry, geometryWarnings } from './data/validate.ts';
import { readEngineCache } from './onnx/engine-cache.ts';
import { homedir } from 'node:os';
import cliProgress from 'cli-progress';
import type { Runtime } from './runtime/runtime.ts';
import { describeAdapter, isSoftwareAdapter } from './device/gpu.ts';
import { UNet, paperUNet, tinyUNet } from './model/unet.ts';
import { SegmentationTrainer, paperClassWeights } from './train/segmentation.ts';
import { syntheticBatch } from './data/synthetic-batch.ts';
import { generateSubject, PHANTOM_VERSION, fnv1a } from './data/phantom.ts';
import { writeNiftiFile, readNiftiFile } from './io/nifti-file.ts';
import { readVolumeFile } from './io/volume-file.ts';
import { checkSegOutput, classNames, writeSegOutput, type SegType } from './cli/seg-out.ts';
import { writeFileAtomic, readFileBytes, removeStaleTemps } from './io/files.ts';
import { loadDataset } from './data/dataset.ts';
import {
  prepareVolume,
  labelsFromProbabilities,
  type PreparedVolume,
  type PreprocessOptions,
} from './data/pipeline.ts';
import { prepareEntries, numClasses, prepareSplits, gridPreprocess } from './data/prepare.ts';
import {
  type GridOverrides,
  type Preset,
  PRESET_NAMES,
  PresetError,
  describeGrid,
  datasetSpacingNote,
  gridOf,
  presetNamed,
  withGrid,
} from './presets.ts';
import {
  finetune,
  evaluateVolumes,
  predictVolume,
  meanOf,
  PAPER_FINETUNE,
  type FinetuneOptions,
} from './train/finetune.ts';
import { saveParams, loadParams } from './train/checkpoint.ts';
import { overlayPng } from './io/png.ts';
import {
  PRETRAIN_SEED,
  type ExperimentPreset,
  parseMethod,
  runExperiment,
  stageOptions,
} from './experiment/experiment.ts';
import { partitionRetrieval, sliceEmbeddings } from './experiment/probe.ts';
import { CLAIM_CEILING, ceilingScores } from './experiment/ceiling.ts';
import { PLATEAU_DELTA, RUN_OVER_BUDGET, convergenceCurves } from './experiment/convergence.ts';
import {
  PAPER_PRETRAIN,
  type PretrainOptions,
  isLocal,
  loadPretrained,
  pretrain,
  pretrainModel,
} from './contrastive/pretrain.ts';
import type { GlobalStrategy, LocalStrategy } from './contrastive/batches.ts';
import { decodeSafetensors } from './train/checkpoint.ts';
import { checkOutputFolder, prepareTrainOutputs } from './cli/outputs.ts';
import { existsSync } from 'node:fs';
import { exportOnnx, onnxModelInfo, ONNX_OPSET } from './onnx/onnx.ts';
import { onnxSession, predictVolumeOnnx } from './onnx/engine.ts';
import { readFile } from 'node:fs/promises';
import { GLOCAL_VERSION } from './version.ts';

// decimal digits only ('0x10', '1e3', '' and '-5' are refused by name: src/cli/options.ts); count: at least 1
const int = (name: string) => integerOption(name, 0);
const count = (name: string) => integerOption(name, 1);

/** The preset named, with its grid replaced by --size / --spacing: the grid every command uses (presets.ts). */
function preset(name: string, o: GridOverrides = {}): Preset {
  try {
    return withGrid(presetNamed(name), o);
  } catch (e) {
    if (e instanceof PresetError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

/** The grid line every command prints before its work, and the dataset's own spacing when it differs (never applied). */
function printGrid(name: string, p: Preset, ds: { targetSpacing: number | null }): void {
  console.log(`grid: preset ${name}, ${describeGrid(p)}`);
  const note = datasetSpacingNote(ds.targetSpacing, p);
  if (note) console.log(`grid: ${note}`);
}

/** The backend asked for with --backend / --threads (set before each command's action; see backendOptions). */
let backendChoice: { kind: BackendKind; threads?: number } = { kind: 'auto' };

/** Open the chosen backend and say which it is: every result and checkpoint records `ob.description`. */
async function runtime(): Promise<{ ob: OpenedBackend; be: OpenedBackend['be'] }> {
  const ob = await openBackend(backendChoice.kind, { threads: backendChoice.threads });
  console.log(`backend: ${ob.description}`);
  return { ob, be: ob.be };
}

function bar(total: number, what: string) {
  const b = new cliProgress.SingleBar(
    {
      format: `${what} [{bar}] {value}/{total} | ETA {eta_formatted} | {status}`,
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: true,
      notTTYSchedule: 10000,
    },
    cliProgress.Presets.legacy,
  );
  b.start(total, 0, { status: '' });
  return b;
}

// ------------------------------------------------------------------------------------------------ phantom
/**
 * n volumes split test / val / train (the first nLabeledTrain of the rest) / unlabeled, then nUnlabeled more volumes
 * without a split of their own ('unlabeled': pre-training only), so a larger pre-training pool leaves the first n as they were.
 */
export async function writePhantom(
  out: string,
  n: number,
  seed: number,
  nLabeledTrain = n,
  nUnlabeled = 0,
): Promise<void> {
  if (!(Number.isInteger(n) && n >= 1)) throw new InvalidArgumentError(`phantom: --n must be at least 1, not ${n}`);
  await mkdir(out, { recursive: true });
  const entries: { name: string; image: string; label: string; split: string; group: string }[] = [];
  const nTest = Math.max(1, Math.round(n * 0.3)),
    nVal = Math.min(2, Math.max(0, n - nTest - 1));
  const b = bar(n + nUnlabeled, 'phantom');
  try {
    for (let i = 0; i < n + nUnlabeled; i++) {
      const s = generateSubject(seed, i);
      const name = `phantom_${String(i).padStart(3, '0')}`;
      await writeNiftiFile(join(out, `${name}.nii.gz`), s.image, { datatype: 'float32' });
      await writeNiftiFile(join(out, `${name}_gt.nii.gz`), s.label, { datatype: 'uint8' });
      const split =
        i >= n
          ? 'unlabeled'
          : i < nTest
            ? 'test'
            : i < nTest + nVal
              ? 'val'
              : i < nTest + nVal + nLabeledTrain
                ? 'train'
                : 'unlabeled';
      entries.push({ name, image: `${name}.nii.gz`, label: `${name}_gt.nii.gz`, split, group: s.meta.heart.group });
      b.update(i + 1);
    }
  } finally {
    b.stop();
  }
  const manifest = {
    classes: ['background', 'RV', 'myocardium', 'LV'],
    targetSpacing: 1.36719,
    generator: {
      name: 'glocal phantom',
      version: PHANTOM_VERSION,
      seed,
      n: n + nUnlabeled,
      ...(nUnlabeled ? { unlabeledBeyond: n } : {}),
    },
    entries,
  };
  await writeFileAtomic(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  console.log(
    `wrote ${n + nUnlabeled} phantom volumes + labels and manifest.json to ${out} (generator ${PHANTOM_VERSION}, seed ${seed})`,
  );
}

// ------------------------------------------------------------------------------------------------ data
/** Per-volume Dice per class and mean, then mean HD95 (mm) over the foreground classes; returns the mean Dice. */
function printScores(
  title: string,
  classes: string[],
  scores: { name: string; dice: number[]; meanForeground: number; hd95: number[] }[],
): number {
  const fin = (xs: number[]) => meanOf(xs.filter(Number.isFinite));
  const cell = (d: number, digits = 3, w = 11) => (Number.isNaN(d) ? '—' : d.toFixed(digits)).padStart(w);
  console.log(`\n${title}`);
  const w = Math.max(16, ...scores.map((s) => s.name.length + 1)); // file names as row labels stay in their column
  console.log(
    [
      'volume'.padEnd(w),
      ...classes.slice(1).map((c) => c.padStart(11)),
      'mean fg'.padStart(9),
      'HD95 mm'.padStart(9),
    ].join(''),
  );
  for (const s of scores) {
    console.log(
      [
        s.name.padEnd(w),
        ...s.dice.slice(1).map((d) => cell(d)),
        cell(s.meanForeground, 3, 9),
        cell(fin(s.hd95.slice(1)), 2, 9),
      ].join(''),
    );
  }
  const perClass = classes.slice(1).map((_, k) => fin(scores.map((s) => s.dice[k + 1])));
  const mean = meanOf(scores.map((s) => s.meanForeground));
  console.log(
    [
      'mean'.padEnd(w),
      ...perClass.map((d) => cell(d)),
      cell(mean, 3, 9),
      cell(fin(scores.map((s) => fin(s.hd95.slice(1)))), 2, 9),
    ].join(''),
  );
  return mean;
}

// ------------------------------------------------------------------------------------------------ train
interface TrainArgs extends GridOverrides {
  data: string;
  preset: string;
  labeled?: number;
  iterations?: number;
  seed: number;
  out: string;
  png?: string;
  loss?: 'dice' | 'ce';
  mixup?: number;
  resume?: boolean;
  init?: string;
}

export async function train(a: TrainArgs): Promise<number> {
  const p = preset(a.preset, a);
  // before any work: the --png folder, temp files of a killed run, what --resume reads (src/cli/outputs.ts)
  const resume = await prepareTrainOutputs(a);
  const ds = await loadDataset(a.data);
  const pick = (s: string) => ds.entries.filter((e) => e.split === s && e.label);
  const trainE = labeledTraining(ds, a.labeled, a.seed),
    valE = pick('val'),
    testE = pick('test');
  if (ds.splitNote) console.log(`${a.data}: ${ds.splitNote}`);
  const o = gridPreprocess(p);
  console.log(`dataset ${ds.root} (${ds.layout}${ds.generator ? `, generator ${JSON.stringify(ds.generator)}` : ''})`);
  printGrid(a.preset, p, ds);
  console.log(
    `preset ${a.preset}: batch ${p.batch}, ` +
      `${a.iterations ?? p.iterations} iterations; ${trainE.length} labeled training volumes (${trainE.map((e) => e.name).join(', ')}), ` +
      `${valE.length} validation, ${testE.length} test`,
  );
  const t0 = performance.now();
  const [tr, va, te] = [
    await prepareEntries(ds, trainE, o),
    await prepareEntries(ds, valE, o),
    await prepareEntries(ds, testE, o),
  ];
  console.log(
    `preprocessed in ${((performance.now() - t0) / 1000).toFixed(1)} s (bias field, p1/p99, resampling, crop/pad: wasm)`,
  );
  const K = numClasses(ds, [...tr, ...va, ...te]);
  const classes = ds.classes ?? Array.from({ length: K }, (_, k) => `class ${k}`);
  const { ob, be } = await runtime();
  const model = new UNet(be, paperUNet(K, p.width), a.seed);
  if (a.init) {
    const bytes = await readFileBytes(a.init);
    const meta = JSON.parse(decodeSafetensors(bytes, a.init).meta.glocal ?? '{}');
    const o = meta.config?.pretrain as PretrainOptions | undefined;
    if (!String(meta.stage).startsWith('pretrain-') || !o)
      throw new Error(`${a.init}: not a pre-training checkpoint (glocal pretrain writes them)`);
    loadPretrained(model, bytes, a.init, isLocal(o.strategy) ? 'local' : 'global', o.block);
    console.log(
      `initialised from ${a.init} (${meta.stage}: the encoder${isLocal(o.strategy) ? ` and decoder blocks 1..${o.block}` : ''})`,
    );
  }
  console.log(`model: the paper's UNet at width ×${p.width}, ${model.params.count} parameters`);
  const iters = a.iterations ?? p.iterations;
  const opts: FinetuneOptions = {
    ...PAPER_FINETUNE,
    iterations: iters,
    batch: p.batch,
    valEvery: p.valEvery,
    seed: a.seed,
    loss: a.loss === 'ce' ? { kind: 'cross-entropy', classWeights: paperClassWeights(K) } : { kind: 'dice' },
    augment: { ...PAPER_FINETUNE.augment, mixup: a.mixup ?? null },
  };
  // last.safetensors (every validation) lets an interrupted run resume; best.safetensors holds the best weights
  const last = join(a.out, 'last.safetensors'),
    bestPath = join(a.out, 'best.safetensors');
  if (resume) console.log(`resuming from ${last}`);
  const hooks = {
    every: p.valEvery,
    resume,
    save: (bytes: Uint8Array) => writeFileAtomic(last, bytes),
    saveBest: (bytes: Uint8Array) => writeFileAtomic(bestPath, bytes),
  };
  const b = bar(iters, 'train');
  const t1 = performance.now();
  let r: Awaited<ReturnType<typeof finetune>>,
    best = '';
  try {
    r = await finetune(
      model,
      tr,
      va,
      opts,
      (pr) => {
        if (pr.best !== undefined) best = `, best validation Dice ${pr.best.toFixed(3)}`;
        b.update(pr.iteration, { status: `loss ${pr.loss.toFixed(4)}${best}` });
      },
      hooks,
    );
  } finally {
    b.stop();
  }
  const trainS = (performance.now() - t1) / 1000;
  console.log(
    `trained ${r.losses.length} iterations in ${trainS.toFixed(0)} s (${((1000 * trainS) / Math.max(1, r.losses.length)).toFixed(0)} ms per iteration incl. validation); ` +
      `best validation Dice ${r.best.toFixed(3)} at iteration ${r.bestIteration}`,
  );
  const ckpt = join(a.out, 'model.safetensors');
  await writeFileAtomic(
    ckpt,
    await saveParams(model.params, {
      stage: 'supervised',
      iteration: iters,
      bestValDice: r.best,
      config: {
        unet: model.config,
        preprocess: o,
        grid: gridOf(p),
        width: p.width,
        backend: ob.description,
        classes,
        preset: a.preset,
        dataset: ds.generator ?? ds.root,
      },
      state: null,
    }),
  );
  console.log(`checkpoint: ${ckpt}`);
  let mean = NaN;
  if (te.length) {
    const scores = await evaluateVolumes(model, te);
    mean = printScores(`3-D Dice at native resolution on ${te.length} held-out test volumes`, classes, scores);
    if (a.png) {
      const v = te[0];
      await writeFileAtomic(a.png, overlayPng(v, await predictVolume(model, v), K));
      console.log(`overlay of ${v.name}, middle slice: ${a.png}`);
    }
  }
  ob.close();
  return mean;
}

// ------------------------------------------------------------------------------------------------ segment/evaluate
async function loadModel<T>(ckptPath: string, be: Backend<T>) {
  const bytes = await readFileBytes(ckptPath);
  const meta = JSON.parse(decodeSafetensors(bytes, ckptPath).meta.glocal ?? '{}');
  const cfg = meta.config;
  if (!cfg?.unet || !cfg?.preprocess)
    throw new Error(`${ckptPath}: the checkpoint does not record its network and preprocessing`);
  const model = new UNet(be, cfg.unet, 0);
  loadParams(model.params, bytes, ckptPath, { weightsOnly: false });
  return { model, pre: cfg.preprocess as PreprocessOptions, classes: cfg.classes as string[] };
}

type Engine = 'webgpu' | 'ort-wasm';
type OrtSession = Awaited<ReturnType<typeof onnxSession>>;

/** Milliseconds of one batch of `slices` slices through an engine (after one warm-up run). */
async function timeEngine(run: () => Promise<unknown>): Promise<number> {
  await run();
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

/**
 * --engine auto: on a software adapter (lavapipe, SwiftShader) the faster of glocal's kernels and the exported
 * ONNX on onnxruntime-web's wasm EP, timed once per adapter, network and input size and remembered in
 * ~/.cache/glocal/engines.json; on a hardware adapter, glocal's kernels.
 */
async function chooseEngine<T>(
  rt: Runtime,
  model: UNet<T>,
  p: PreparedVolume,
  ortSession: () => Promise<OrtSession>,
): Promise<{ engine: Engine; why: string }> {
  if (!isSoftwareAdapter(rt.gpu.info)) return { engine: 'webgpu', why: 'a hardware adapter' };
  const cacheFile = join(homedir(), '.cache', 'glocal', 'engines.json');
  const key = `${describeAdapter(rt.gpu.info)} | ${fnv1a(JSON.stringify(model.config))} | ${p.geometry.network[0]} px`;
  const cache = await readEngineCache(cacheFile, (m) => console.warn(`warning: ${m}`)); // a corrupt cache is rebuilt
  if (!cache[key]) {
    const batch = { ...p, nz: Math.min(8, p.nz) },
      session = await ortSession();
    const ms = {
      webgpu: await timeEngine(() => predictVolume(model, batch)),
      'ort-wasm': await timeEngine(() => predictVolumeOnnx(session, batch, model.config.numClasses)),
    };
    cache[key] = { engine: ms.webgpu <= ms['ort-wasm'] ? 'webgpu' : 'ort-wasm', slices: batch.nz, ms };
    await mkdir(join(homedir(), '.cache', 'glocal'), { recursive: true });
    await writeFileAtomic(cacheFile, `${JSON.stringify(cache, null, 1)}\n`);
  }
  const c = cache[key];
  return {
    engine: c.engine,
    why: `measured on ${c.slices} slices: webgpu ${c.ms.webgpu.toFixed(0)} ms, ort-wasm ${c.ms['ort-wasm'].toFixed(0)} ms (${cacheFile})`,
  };
}

interface SegmentArgs {
  model: string;
  out?: string;
  segOut?: string;
  segType: string;
  engine: string;
}

async function segment(inputs: string[], a: SegmentArgs): Promise<void> {
  if (!['webgpu', 'ort-wasm', 'auto'].includes(a.engine))
    throw new InvalidArgumentError(`--engine is webgpu, ort-wasm or auto, not '${a.engine}'`);
  if (!a.out && !a.segOut) {
    throw new InvalidArgumentError('give --out (a NIfTI label map), --seg-out (a DICOM SEG), or both');
  }
  // NIfTI or a DICOM series; odd or too large: refused from its header
  const img = await readVolumeFile(inputs, { checkHeader: (h) => checkGeometry(h) }),
    input = img.source;
  if (a.segOut) checkSegOutput(img, a.segOut, a.segType);
  let classes: string[] | undefined;
  geometryWarnings(img).forEach((w) => console.warn(`warning: ${w}`));
  let probs: Float32Array,
    K: number,
    p: PreparedVolume,
    engine: Engine,
    engineLabel = 'ort-wasm';
  if (a.engine === 'ort-wasm') {
    // the ONNX file exported by glocal carries its configuration and preprocessing
    const bytes = await readFileBytes(a.model),
      info = onnxModelInfo(bytes, a.model);
    if (!info.preprocess)
      throw new Error(`${a.model}: the ONNX file records no preprocessing (export it with glocal export-onnx)`);
    p = await prepareVolume(img, null, info.preprocess);
    K = info.config.numClasses;
    classes = info.classes;
    probs = await predictVolumeOnnx(await onnxSession(bytes, 'wasm'), p, K);
    engine = 'ort-wasm';
    console.log('engine: ort-wasm (onnxruntime-web, wasm execution provider)');
  } else {
    const { ob, be } = await runtime();
    const { model, pre, classes: names } = await loadModel(a.model, be);
    classes = names;
    p = await prepareVolume(img, null, pre);
    K = model.config.numClasses;
    engine = 'webgpu';
    // the model exported to ONNX and opened in onnxruntime-web at most once, by whichever step needs it first
    let ort: Promise<OrtSession> | null = null;
    const ortSession = () => (ort ??= exportOnnx(model).then((bytes) => onnxSession(bytes, 'wasm')));
    if (a.engine === 'auto' && ob.rt) {
      const c = await chooseEngine(ob.rt, model, p, ortSession);
      engine = c.engine;
      console.log(`engine auto: ${engine} (${c.why})`);
    }
    probs = engine === 'webgpu' ? await predictVolume(model, p) : await predictVolumeOnnx(await ortSession(), p, K);
    console.log(
      engine === 'webgpu'
        ? `engine: glocal's kernels on ${ob.description}`
        : 'engine: ort-wasm (onnxruntime-web, wasm execution provider, on the exported model)',
    );
    if (engine === 'webgpu') engineLabel = `glocal ${ob.kind}`;
    ob.close();
  }
  const { volume } = await labelsFromProbabilities(p, probs, K);
  if (a.out) {
    await writeNiftiFile(a.out, volume, { datatype: 'uint8', description: `glocal segment, engine ${engineLabel}` });
    console.log(
      `wrote ${a.out}: ${volume.dims.join('×')} labels on the grid and affine of ${input} ` +
        '(engine recorded in its header)',
    );
  }
  if (a.segOut && 'dicom' in img) {
    await writeSegOutput(a.segOut, volume, img, classNames(classes, K), a.segType as SegType);
    console.log(`wrote ${a.segOut}: a ${a.segType} DICOM SEG of ${input} (${img.dicom.sopInstanceUIDs.length} images)`);
  }
}

async function exportOnnxCommand(a: { model: string; out: string }): Promise<void> {
  await checkOutputFolder('--out', a.out);
  await removeStaleTemps(a.out);
  const { ob, be } = await runtime();
  const { model, pre, classes } = await loadModel(a.model, be);
  await writeFileAtomic(a.out, await exportOnnx(model, { preprocess: pre, classes }));
  console.log(
    `wrote ${a.out}: ONNX (opset ${ONNX_OPSET}) of ${a.model}; input "image" [N, 1, H, W], output "logits" [N, ${model.config.numClasses}, H, W]`,
  );
  ob.close();
}

async function evaluate(pred: string, truth: string, a: { classes?: string }): Promise<void> {
  const [p, t] = [await readNiftiFile(pred), await readNiftiFile(truth)];
  const named = a.classes?.split(',').map((c) => c.trim());
  const s = await scoreLabelMaps(p, t, named); // checks the grids and label values first (data/evaluate.ts)
  const names = named ?? Array.from({ length: s.K }, (_, k) => (k ? `class ${k}` : 'background'));
  printScores(`3-D Dice and HD95 of ${pred} against ${truth}`, names, [{ name: basename(pred), ...s }]);
}

// ------------------------------------------------------------------------------------------------ demo
async function demo(a: { steps: number; size: number; batch: number; paper?: boolean }): Promise<void> {
  const { ob, be } = await runtime();
  const cfg = a.paper ? paperUNet(3) : tinyUNet(3),
    pools = 2 ** (cfg.encoder.length - 1);
  if (a.size % pools)
    throw new InvalidArgumentError(
      `--size ${a.size}: the ${a.paper ? "paper's" : 'small'} UNet needs a multiple of ${pools}`,
    );
  const model = new UNet(be, cfg, 1);
  const { x, y } = syntheticBatch(a.batch, a.size, 3, 42);
  const trainer = new SegmentationTrainer(model);
  const xs = be.fromHost(x, [a.batch, a.size, a.size, 1]),
    ys = be.fromHost(y, [a.batch, a.size, a.size, 3]);
  for (let i = 0; i < a.steps; i++) {
    const l = await trainer.step(xs, ys);
    if (i % 10 === 0 || i === a.steps - 1) console.log(`step ${String(i + 1).padStart(4)}  dice loss ${l.toFixed(4)}`);
  }
  ob.close();
}

/** Inputs are never written: an output path that names one of them is refused before any work. */
export function notAnInput(out: string, inputs: string[]): void {
  if (inputs.includes(out))
    throw new InvalidArgumentError(
      `--out ${out} is one of the inputs; glocal never writes over its inputs, choose another path`,
    );
}

// ------------------------------------------------------------------------------------------------ pretrain
async function pretrainCommand(
  a: GridOverrides & {
    data: string;
    strategy: string;
    local?: string;
    regions: string;
    preset: string;
    out: string;
    iterations?: number;
    resume?: boolean;
  },
): Promise<void> {
  if (a.regions !== 'reference' && a.regions !== 'dense')
    throw new InvalidArgumentError(`--regions is reference or dense, not '${a.regions}'`);
  const p = preset(a.preset, a);
  const m = parseMethod(a.local ? `${a.strategy}+${a.local}` : a.strategy);
  if (!m.global) throw new InvalidArgumentError(`--strategy is GR, GD- or GD`);
  const ds = await loadDataset(a.data);
  printGrid(a.preset, p, ds);
  // every volume that is not held out for validation or testing, labeled or not (labels are not used)
  const { unlabeled: vols, classes } = await prepareSplits(ds, p, { unlabeled: true });
  if (!vols.length) throw new Error(`${a.data}: no volumes outside the val and test splits to pre-train on`);
  const { ob, be } = await runtime();
  await mkdir(a.out, { recursive: true });
  const cfg = paperUNet(classes.length, p.width);
  let init: Uint8Array | null = null;
  for (const [strategy, file] of [[m.global, 'global'], ...(m.local ? [[m.local, 'local']] : [])] as [
    GlobalStrategy | LocalStrategy,
    string,
  ][]) {
    const opts: PretrainOptions = {
      ...stageOptions(strategy, p),
      iterations: a.iterations ?? p.pretrainIterations,
      regions: a.regions as PretrainOptions['regions'],
      crossPartition: m.crossPartition,
    };
    const model = pretrainModel(be, cfg, p.size, opts, 1);
    if (init) loadPretrained(model, init, 'stage 1', 'global', opts.block);
    const last = join(a.out, `${file}.last.safetensors`),
      done = join(a.out, `${file}.safetensors`);
    const resume = a.resume && existsSync(last) ? { bytes: await readFileBytes(last), source: last } : undefined;
    // decoder block l works at 1/2^(5-l) of the grid: L^D's regions live on that map
    const maps = isLocal(strategy) ? `, decoder block ${opts.block}'s ${p.size >> (5 - opts.block)}² maps` : '';
    console.log(
      `stage ${file} (${strategy}): ${opts.iterations} iterations on ${vols.length} volumes, ${describeGrid(p)}${maps}${resume ? `, resuming from ${last}` : ''}`,
    );
    const b = bar(opts.iterations, strategy),
      losses = ['iteration,loss'];
    try {
      await pretrain(
        model,
        vols.map((v) => ({ slices: v.slices, nz: v.nz, name: v.original.source })),
        p.size,
        opts,
        (it, loss) => {
          b.update(it, { status: `loss ${loss.toFixed(4)}` });
          losses.push(`${it},${loss}`);
        },
        { every: 50, resume, save: (bytes) => writeFileAtomic(last, bytes) },
      );
    } finally {
      b.stop();
    }
    init = await readFileBytes(last);
    await writeFileAtomic(done, init);
    // the loss of every iteration this call ran (a resumed stage: from where it resumed), to see a loss collapse
    await writeFileAtomic(join(a.out, `${file}.losses.csv`), `${losses.join('\n')}\n`);
    console.log(`checkpoint: ${done}`);
  }
  ob.close();
}

// ------------------------------------------------------------------------------------------------ experiment
/** The experiment's volumes at a preset's grid: --data, or the 32-volume phantom the runner writes to <out>/data. */
async function experimentData(dataArg: string | undefined, out: string, name: string, p: ExperimentPreset) {
  let data = dataArg;
  if (!data) {
    data = join(out, 'data');
    // 20 labeled training, 2 validation and 10 test volumes, and 32 more unlabeled: a pre-training pool of 52,
    // as many as the paper's on ACDC
    if (!existsSync(join(data, 'manifest.json'))) await writePhantom(data, 32, 1, 32, 32);
  }
  const ds = await loadDataset(data);
  printGrid(name, p, ds);
  const splits = await prepareSplits(ds, p);
  if (!splits.test.length) throw new Error(`${data}: no labeled volumes with split "test" to evaluate on`);
  return { ds, ...splits };
}

/** The partition probe (src/experiment/probe.ts) of an experiment folder's global stages, and of their common init. */
async function probe(a: GridOverrides & { data?: string; out: string; preset: string; stages: string }): Promise<void> {
  const p = preset(a.preset, a);
  const stages = a.stages.split(','),
    isFile = (st: string) => st.endsWith('.safetensors');
  for (const st of stages) {
    if (!['init', 'GR', 'GD-', 'GD'].includes(st) && !isFile(st))
      throw new InvalidArgumentError(`--stages: '${st}' is not init, GR, GD-, GD or a .safetensors file`);
  }
  const { unlabeled, classes } = await experimentData(a.data, a.out, a.preset, p);
  const vols = unlabeled.map((v) => ({ slices: v.slices, nz: v.nz, name: v.original.source }));
  const partitions = PAPER_PRETRAIN.GD.partitions,
    cfg = paperUNet(classes.length, p.width);
  const { ob, be } = await runtime();
  const depth = cfg.encoder.length,
    levelNames = Array.from({ length: depth }, (_, l) => `level ${l + 1} (${p.size >> l}²)`);
  const lines = [
    `| stage | ${levelNames.join(' | ')} | bottleneck margin | g1 | g1 margin |`,
    `|---|${'---|'.repeat(depth + 3)}`,
  ];
  let chance = 0;
  try {
    for (const st of stages) {
      const model = pretrainModel(
        be,
        cfg,
        p.size,
        stageOptions(st === 'init' || isFile(st) ? 'GR' : (st as GlobalStrategy), p),
        PRETRAIN_SEED,
      );
      if (isFile(st)) {
        // any checkpoint of this network (a fine-tuned one from experiment --keep-models): its encoder
        loadParams(model.params, await readFileBytes(resolve(st)), st, {
          weightsOnly: true,
          skip: (n) => !n.startsWith('enc'),
        });
      } else if (st !== 'init') {
        const file = join(a.out, 'pretrain', a.preset, `${st}.safetensors`);
        if (!existsSync(file))
          throw new Error(
            `${file}: no finished ${st} stage in this folder (glocal experiment --methods ${st} trains it)`,
          );
        loadParams(model.params, await readFileBytes(file), file, { weightsOnly: true });
      }
      const e = await sliceEmbeddings(model, vols, p.size, partitions);
      const levels = e.levels.map((f) => partitionRetrieval(f, e.volume, e.partition)),
        head = partitionRetrieval(e.head, e.volume, e.partition);
      chance = head.chance;
      const headCells = isFile(st) ? '— | —' : `${head.accuracy.toFixed(3)} | ${head.margin.toFixed(3)}`; // g1 is not in a fine-tuned network
      lines.push(
        `| ${st} | ${levels.map((r) => r.accuracy.toFixed(3)).join(' | ')} | ${levels[depth - 1].margin.toFixed(3)} | ${headCells} |`,
      );
      console.log(lines[lines.length - 1]);
    }
  } finally {
    ob.close();
  }
  console.log(
    `\n1-NN partition retrieval: for each slice, is the most cosine-similar slice of another volume in the same partition? ` +
      `Per encoder level (flattened features), and for g1's output. ${vols.length} pre-training volumes, ${partitions} partitions; ` +
      `a slice of another volume picked at random is in the same partition with probability ${chance.toFixed(3)}. ` +
      `Margin: mean cosine of same-partition pairs minus other pairs. init: the pre-training's start (seed ${PRETRAIN_SEED}).\n\n${lines.join('\n')}`,
  );
}

/** The ceiling of each preset's grid on a dataset's test volumes (experiment/ceiling.ts): per class, and whether it may carry a claim. */
async function ceilingCommand(a: GridOverrides & { data?: string; out: string; presets: string }): Promise<void> {
  const names = a.presets.split(',');
  for (const name of names) preset(name, a); // unknown names fail before any work
  const rows: string[] = [];
  let classes: string[] = [];
  for (const name of names) {
    const p = preset(name, a),
      data = await experimentData(a.data, a.out, name, p),
      scores = await ceilingScores(data.test, data.classes.length);
    classes = data.classes;
    const perClass = classes.slice(1).map((_, k) => meanOf(scores.map((x) => x.dice[k + 1])));
    const claim = perClass.every((d) => d >= CLAIM_CEILING) ? 'yes' : `no (a class below ${CLAIM_CEILING})`;
    rows.push(
      `| ${name} | ${describeGrid(p)} | ${perClass.map((d) => d.toFixed(3)).join(' | ')} | ${meanOf(scores.map((x) => x.meanForeground)).toFixed(3)} | ${claim} |`,
    );
  }
  const head = [
    `| preset | grid | ${classes.slice(1).join(' | ')} | mean fg | claim |`,
    `|---|---|${'---|'.repeat(classes.length + 1)}`,
  ];
  console.log(
    `\nCeiling: the test volumes' ground truth through each grid and back, 3-D Dice at native resolution\n\n${[...head, ...rows].join('\n')}`,
  );
}

/** Validation curves of the benchmark and of random init on few volumes, and the budget the rule picks (experiment/convergence.ts). */
async function convergenceCommand(
  a: GridOverrides & { data?: string; out: string; preset: string; iterations: number; labeled: number },
): Promise<void> {
  const p = preset(a.preset, a);
  if (a.iterations < 1 || a.labeled < 1) throw new InvalidArgumentError('--iterations and --labeled must be positive');
  const { train, val, classes } = await experimentData(a.data, a.out, a.preset, p);
  const { ob, be } = await runtime();
  console.log(
    `convergence (${a.preset}, ${describeGrid(p)}, batch ${p.batch}, validation every ${p.valEvery}): the benchmark and random init on ${a.labeled} labeled, ${a.iterations} iterations each`,
  );
  try {
    const { budget: b } = await convergenceCurves(
      { be, out: a.out, preset: a.preset, definition: p, classes, train, val, log: (l) => console.log(l) },
      a.iterations,
      a.labeled,
    );
    console.log(
      `plateaus (first validation within ${PLATEAU_DELTA} of the curve's best): ${b.plateaus.join(' and ')}; budget ${b.budget}; ` +
        (b.holds
          ? `holds (the run went on to ${b.ran} ≥ ${RUN_OVER_BUDGET}× the budget with no further rise)`
          : `does not hold: the run (${b.ran}) is shorter than ${RUN_OVER_BUDGET}× the budget, run longer`),
    );
    console.log(`curves: ${join(a.out, `convergence-${a.preset}.csv`)}, ${join(a.out, `convergence-${a.preset}.svg`)}`);
  } finally {
    ob.close();
  }
}

/** Set by scripts/build.mjs: the commit the bundle was built from. */
declare const __GLOCAL_COMMIT__: string;

async function experiment(
  a: GridOverrides & {
    data?: string;
    out: string;
    preset: string;
    labeled: string;
    methods: string;
    runs: number;
    firstRun: number;
    init: string;
    draw: string;
    iterations?: number;
    reportOnly?: boolean;
    keepModels?: boolean;
    pretrainSeeds: number;
  },
): Promise<void> {
  if (a.firstRun < 1) throw new InvalidArgumentError('--first-run: runs are numbered from 1');
  if (a.firstRun > a.runs)
    throw new InvalidArgumentError(`--first-run ${a.firstRun} is after --runs ${a.runs}: no run to do`);
  if (a.init !== 'fixed' && a.init !== 'run')
    throw new InvalidArgumentError(`--init: 'fixed' or 'run', got '${a.init}'`);
  if (a.draw !== 'independent' && a.draw !== 'disjoint')
    throw new InvalidArgumentError(`--draw: 'independent' or 'disjoint', got '${a.draw}'`);
  if (a.pretrainSeeds < 1) throw new InvalidArgumentError('--pretrain-seeds: at least 1');
  const p = preset(a.preset, a);
  const labeled = a.labeled.split(',').map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--labeled: '${v}' is not a positive integer`);
    return n;
  });
  const methods = a.methods.split(',');
  methods.forEach(parseMethod); // unknown names fail before any work
  const { ds, train, val, test, unlabeled, classes } = await experimentData(a.data, a.out, a.preset, p);
  const { ob, be } = await runtime();
  const dataset = ds.generator
    ? `phantom ${String(ds.generator.version)} seed ${String(ds.generator.seed)} n ${String(ds.generator.n)}`
    : `${ds.layout} ${fnv1a(JSON.stringify(ds.entries.map((e) => [e.name, e.split])))}`;
  console.log(
    `experiment (${a.preset}, ${describeGrid(p)}, fine-tuning ${a.iterations ?? p.iterations} iterations of ${p.batch} slices, ` +
      `pre-training ${p.pretrainIterations} iterations, pre-training seeds 1..${a.pretrainSeeds}, init ${a.init}): ${methods.join(', ')} × ${labeled.join(', ')} labeled × runs ${a.firstRun}–${a.runs}${a.reportOnly ? ' (report only)' : ''}; ` +
      `${train.length} labeled training, ${unlabeled.length} pre-training, ${val.length} validation, ${test.length} test volumes; results in ${a.out}`,
  );
  try {
    await runExperiment(
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
        provenance: { commit: __GLOCAL_COMMIT__, adapter: ob.description, runtime: 'node', dataset },
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
}

// ------------------------------------------------------------------------------------------------ main
const PRESET_HELP = `${PRESET_NAMES.join(' | ')}: the network grid (size, spacing), width and budgets (src/presets.ts)`;

/** --size and --spacing: they replace the preset's grid; a dataset's own spacing never does. */
function gridOptions(c: Command): Command {
  return c
    .option('--size <px>', "network side in pixels, a multiple of 32 (default: the preset's)", count('--size'))
    .option('--spacing <mm>', "in-plane grid spacing in mm (default: the preset's)", (v: string) => {
      const x = Number(v);
      if (!(x > 0) || v.trim() === '') throw new InvalidArgumentError('--spacing must be a positive number of mm');
      return x;
    });
}

/** --backend and --threads on every command that computes (read by runtime() through the preAction hook below). */
function backendOptions(c: Command): Command {
  return c
    .addOption(
      new Option(
        '--backend <kind>',
        'webgpu, wasm (WebAssembly SIMD on the CPU), or auto (a hardware WebGPU adapter, else wasm)',
      )
        .choices(BACKEND_KINDS)
        .default('auto'),
    )
    .option('--threads <n>', 'wasm backend threads (default: every core)', int('--threads'));
}

const program = new Command('glocal')
  .version(GLOCAL_VERSION)
  .description(
    'Train and run medical image segmentation UNets on WebGPU (Chaitanya et al. 2020: global + local contrastive pre-training).',
  )
  .showHelpAfterError()
  .hook('preAction', (_, action) => {
    const o = action.opts();
    if (o.backend) backendChoice = { kind: o.backend as BackendKind, threads: o.threads };
  });

program
  .command('phantom')
  .description('write a seeded synthetic cardiac MR dataset (NIfTI + manifest.json)')
  .requiredOption('--out <dir>', 'output folder')
  .option('--n <count>', 'number of volumes', count('--n'), 24)
  .option('--seed <seed>', 'dataset seed', int('--seed'), 1)
  .action(async (o) => writePhantom(resolve(o.out), o.n, o.seed));

backendOptions(
  gridOptions(
    program
      .command('train')
      .description('supervised training from random init on the labeled "train" volumes of a dataset')
      .requiredOption('--data <dir>', 'dataset folder (manifest.json/.csv, ACDC or MSD layout)')
      .option('--preset <name>', PRESET_HELP, 'quick')
      .option('--labeled <n>', 'use only n labeled training volumes', count('--labeled'))
      .option('--iterations <n>', 'override the preset', count('--iterations'))
      .option('--seed <seed>', 'seed', int('--seed'), 1)
      .option('--out <dir>', 'where the checkpoint goes', 'runs/train')
      .option('--png <file>', 'overlay PNG of one test slice')
      .option(
        '--loss <kind>',
        'dice (soft Dice with background, the default) or ce (class-weighted cross-entropy)',
        (v: string) => {
          if (v !== 'dice' && v !== 'ce') throw new InvalidArgumentError('--loss is dice or ce');
          return v;
        },
        'dice',
      )
      .option('--resume', 'continue an interrupted run from <out>/last.safetensors')
      .option('--mixup <alpha>', 'Mixup on the labeled batch with Beta(alpha, alpha), e.g. 0.1', (v: string) => {
        const a = Number(v);
        if (!(a > 0)) throw new InvalidArgumentError('--mixup needs a positive alpha');
        return a;
      })
      .option(
        '--init <ckpt>',
        'start from a pre-training checkpoint (glocal pretrain): its encoder, and decoder blocks 1..l after a local stage',
      ),
  ),
).action(async (o) => {
  await train({ ...o, data: resolve(o.data), out: resolve(o.out), init: o.init && resolve(o.init) });
});

backendOptions(
  gridOptions(
    program
      .command('pretrain')
      .description('contrastive pre-training on the volumes outside val/test: stage 1 global, optionally stage 2 local')
      .requiredOption('--data <dir>', 'dataset folder')
      .option('--strategy <name>', 'global loss: GR, GD- or GD', 'GD')
      .option(
        '--local <name>',
        'then a local stage: LR, LD, or LDx (L^D plus same-region negatives from other partitions, a deviation)',
      )
      .option(
        '--regions <kind>',
        "local stage: 'reference' (13 regions, 5 negatives each) or 'dense' (a 4-px grid, all others negative)",
        'reference',
      )
      .option('--preset <name>', PRESET_HELP, 'small')
      .option('--iterations <n>', 'override the preset', count('--iterations'))
      .option('--out <dir>', 'checkpoints go here', 'runs/pretrain')
      .option('--resume', 'continue interrupted stages from <out>/*.last.safetensors'),
  ),
).action(async (o) => pretrainCommand({ ...o, data: resolve(o.data), out: resolve(o.out) }));

backendOptions(
  program
    .command('segment')
    .description('segment a NIfTI volume or a DICOM series; the label map keeps the input grid and affine')
    .argument('<input...>', 'image .nii or .nii.gz, or a DICOM series: its folder, or its files')
    .requiredOption('--model <ckpt>', 'checkpoint (.safetensors)')
    .option('--out <file>', 'label volume to write (.nii.gz)')
    .option('--seg-out <file>', 'DICOM SEG to write (DICOM input only): segments coded in SNOMED CT by class name')
    .option(
      '--seg-type <type>',
      "'binary' (Segmentation Storage) or 'labelmap' (Label Map Segmentation Storage)",
      'binary',
    )
    .option(
      '--engine <name>',
      "webgpu (glocal's kernels), ort-wasm (onnxruntime-web's wasm EP on a file from export-onnx), or auto (on a software adapter the faster of the two, measured once and remembered)",
      'webgpu',
    ),
).action(async (inputs: string[], o) => {
  const outputs = [o.out, o.segOut].filter(Boolean).map((f) => resolve(f));
  for (const f of outputs) notAnInput(f, [...inputs.map((i) => resolve(i)), resolve(o.model)]);
  const [out, segOut] = [o.out && resolve(o.out), o.segOut && resolve(o.segOut)];
  await segment(
    inputs.map((i) => resolve(i)),
    { ...o, model: resolve(o.model), out, segOut },
  );
});

backendOptions(
  program
    .command('export-onnx')
    .description('export a trained model checkpoint to ONNX (inference graph; loads back with loadOnnxWeights)')
    .requiredOption('--model <ckpt>', 'checkpoint (.safetensors)')
    .requiredOption('--out <file>', 'the .onnx file to write'),
).action(async (o) => {
  notAnInput(resolve(o.out), [resolve(o.model)]);
  await exportOnnxCommand({ model: resolve(o.model), out: resolve(o.out) });
});

program
  .command('evaluate')
  .description('per-class 3-D Dice and HD95 of a predicted label volume against ground truth')
  .argument('<prediction>', 'predicted label map (.nii/.nii.gz, class indices), e.g. from glocal segment')
  .argument('<truth>', 'ground-truth label map on the same grid and affine (class indices 0..K-1)')
  .option(
    '--classes <names>',
    'comma-separated class names, background first (default: as many as the truth has, 0..its largest label)',
  )
  .action(async (p, t, o) => evaluate(resolve(p), resolve(t), o));

backendOptions(
  program
    .command('quickstart')
    .description(
      'the main job: phantom data → train on 2 labeled volumes (quick preset) → Dice on held-out volumes → PNG',
    )
    .option('--dir <dir>', 'working folder', 'runs/quickstart')
    .option('--preset <name>', PRESET_HELP, 'quick'),
).action(async (o) => {
  const dir = resolve(o.dir);
  await writePhantom(join(dir, 'data'), 12, 1);
  const mean = await train({
    data: join(dir, 'data'),
    preset: o.preset,
    labeled: 2,
    seed: 1,
    out: dir,
    png: join(dir, 'overlay.png'),
  });
  console.log(
    `\nmean foreground Dice on held-out phantom volumes, random init + 2 labeled volumes: ${mean.toFixed(3)}`,
  );
});

backendOptions(
  gridOptions(
    program
      .command('experiment')
      .description('pre-train once per method, fine-tune per labeled count and run, Dice table (resumes)')
      .option('--data <dir>', 'dataset folder (default: a 32-volume phantom written to <out>/data)')
      .option(
        '--out <dir>',
        'results folder (experiment.csv, .md, .svg, pretrain/<preset>/); runners on other methods or presets may share it',
        'results',
      )
      .option('--preset <name>', PRESET_HELP, 'small')
      .option(
        '--pretrain-seeds <n>',
        'pre-train every stage with seeds 1..n and fine-tune each run from each (a claim needs n ≥ 2)',
        int('--pretrain-seeds'),
        1,
      )
      .option('--labeled <list>', 'labeled volumes per fine-tuning, comma-separated', '2')
      .option(
        '--methods <list>',
        'random, GR, GD-, GD, GD+LR, GD+LD, GD+LDx, rotation, restoration, inpainting (each optionally +frozen: fine-tuning leaves the encoder alone, then +mixup, then +self: self-training with pseudo-labels), benchmark; a local method + /k fine-tunes from decoder blocks 1..k only (e.g. GD+LD/1), + @n stops its local stage after n iterations (e.g. GD+LD@0)',
        'random,GR,GD+LD',
      )
      .option('--runs <n>', 'runs per cell (a seed and a labeled draw each)', count('--runs'), 5)
      .option(
        '--first-run <k>',
        'do runs k..n only (runners on other ranges may share the GPU; scripts/experiment-parallel.sh)',
        int('--first-run'),
        1,
      )
      .option('--report-only', 'compute nothing: write the table and plot of the rows in <out>/experiment.csv')
      .option(
        '--keep-models',
        "save each computed cell's fine-tuned network to <out>/models/ (glocal probe --stages takes them)",
      )
      .option(
        '--init <kind>',
        "the fine-tuned network's random init: 'fixed' (seed 1, the pre-training's, in every run) or 'run' (the run's seed)",
        'fixed',
      )
      .option(
        '--draw <kind>',
        "labeled volumes per run: 'independent' (a shuffle per run; runs may share volumes) or 'disjoint' (no volume twice within ⌊pool/labeled⌋ runs); rows of the other kind are other cells",
        'independent',
      )
      .option(
        '--iterations <n>',
        "fine-tuning iterations instead of the preset's (the same checkpoints; rows get another preset_def and their own table)",
        count('--iterations'),
      ),
  ),
).action(async (o) => experiment({ ...o, data: o.data && resolve(o.data), out: resolve(o.out) }));

gridOptions(
  program
    .command('ceiling')
    .description(
      "the best Dice any network can score on a preset's grid: test volumes' ground truth through the grid and back",
    )
    .option('--data <dir>', "dataset folder (default: the experiment's phantom in <out>/data)")
    .option('--out <dir>', 'an experiment folder', 'results')
    .option('--presets <list>', 'comma-separated presets', PRESET_NAMES.filter((n) => n !== 'smoke').join(',')),
).action(async (o) => ceilingCommand({ ...o, data: o.data && resolve(o.data), out: resolve(o.out) }));

backendOptions(
  gridOptions(
    program
      .command('convergence')
      .description(
        'validation curves of the all-labels benchmark and of random init on few volumes, and the fine-tuning budget where both stop rising',
      )
      .option('--data <dir>', "dataset folder (default: the experiment's phantom in <out>/data)")
      .option('--out <dir>', 'where the curves go', 'results')
      .option('--preset <name>', PRESET_HELP, 'small')
      .option(
        '--iterations <n>',
        'iterations of each curve (several times the budget in question)',
        count('--iterations'),
        3000,
      )
      .option('--labeled <n>', 'labeled volumes of the random-init curve', count('--labeled'), 2),
  ),
).action(async (o) => convergenceCommand({ ...o, data: o.data && resolve(o.data), out: resolve(o.out) }));

backendOptions(
  gridOptions(
    program
      .command('probe')
      .description(
        "how well pre-trained encoders group slices by partition across volumes (G^D's positives): 1-NN retrieval",
      )
      .option('--data <dir>', "dataset folder (default: the experiment's phantom in <out>/data)")
      .option('--out <dir>', 'an experiment folder with pretrain/<preset>/<stage>.safetensors', 'results')
      .option('--preset <name>', 'the preset the stages were trained at', 'small')
      .option(
        '--stages <list>',
        "init (the stages' common start), GR, GD-, GD, or .safetensors files of this network (their encoder)",
        'init,GR,GD',
      ),
  ),
).action(async (o) => probe({ ...o, data: o.data && resolve(o.data), out: resolve(o.out) }));

backendOptions(
  program
    .command('demo')
    .description('train a small UNet on one synthetic batch (a smoke test of the GPU path)')
    .option('--steps <n>', 'steps', count('--steps'), 60)
    .option('--size <px>', 'image side', count('--size'), 32)
    .option('--batch <n>', 'batch', count('--batch'), 4)
    .option('--paper', "the paper's full UNet"),
).action(demo);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`glocal: ${(e as Error).message}`);
  process.exit(1); // a held GPU device or timer must not keep a failed command alive
}
