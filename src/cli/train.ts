// glocal train: supervised training from random init (or a pre-training checkpoint) on a dataset's labeled
// "train" volumes, validation on "val", 3-D Dice on "test".
import { join } from 'node:path';
import { labeledTraining } from '../data/splits.ts';
import { gridPreprocess, prepareSplits } from '../data/prepare.ts';
import { nativeLabels, type PreparedVolume } from '../data/pipeline.ts';
import { UNet, paperUNet } from '../model/unet.ts';
import { paperClassWeights } from '../train/segmentation.ts';
import { finetune, evaluateVolumes, predictVolume, PAPER_FINETUNE, type FinetuneOptions } from '../train/finetune.ts';
import { decodeSafetensors, saveParams } from '../train/checkpoint.ts';
import { type PretrainOptions, isLocal, loadPretrained } from '../contrastive/pretrain.ts';
import { type TrainResume, prepareTrainOutputs } from './outputs.ts';
import { overlayPng } from '../data/overlay.ts';
import { readFileBytes, writeFileAtomic } from '../io/files.ts';
import { type GridOverrides, type Preset, gridOf } from '../presets.ts';
import { bar, preset, printScores, runtime } from './common.ts';
import { byClass } from './json.ts';
import { openDataset } from './data.ts';

export interface TrainArgs extends GridOverrides {
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

/** The fine-tuning options of a train run: the paper's, with the preset's budget and the command's loss and Mixup. */
export function finetuneOptions(p: Preset, a: TrainArgs, K: number): FinetuneOptions {
  return {
    ...PAPER_FINETUNE,
    iterations: a.iterations ?? p.iterations,
    batch: p.batch,
    valEvery: p.valEvery,
    seed: a.seed,
    loss: a.loss === 'ce' ? { kind: 'cross-entropy', classWeights: paperClassWeights(K) } : { kind: 'dice' },
    augment: { ...PAPER_FINETUNE.augment, mixup: a.mixup ?? null },
  };
}

/** --init: the encoder (and after a local stage, decoder blocks 1..l) of a `glocal pretrain` checkpoint. */
async function initFromPretrained<T>(model: UNet<T>, path: string): Promise<void> {
  const bytes = await readFileBytes(path);
  const meta = JSON.parse(decodeSafetensors(bytes, path).meta.glocal ?? '{}');
  const o = meta.config?.pretrain as PretrainOptions | undefined;
  if (!String(meta.stage).startsWith('pretrain-') || !o)
    throw new Error(`${path}: not a pre-training checkpoint (glocal pretrain writes them)`);
  loadPretrained(model, bytes, path, isLocal(o.strategy) ? 'local' : 'global', o.block);
  console.log(
    `initialised from ${path} (${meta.stage}: the encoder${isLocal(o.strategy) ? ` and decoder blocks 1..${o.block}` : ''})`,
  );
}

/** The dataset's labeled splits (train: `--labeled` of them, drawn with the seed), prepared on the preset's grid. */
async function trainData(a: TrainArgs, p: Preset) {
  const ds = await openDataset(a.data, a.preset, p, true);
  const trainE = labeledTraining(ds, a.labeled, a.seed);
  const t0 = performance.now();
  const s = await prepareSplits(ds, p, { labeled: true, train: trainE });
  console.log(
    `preset ${a.preset}: batch ${p.batch}, ` +
      `${a.iterations ?? p.iterations} iterations; ${trainE.length} labeled training volumes (${trainE.map((e) => e.name).join(', ')}), ` +
      `${s.val.length} validation, ${s.test.length} test`,
  );
  console.log(
    `preprocessed in ${((performance.now() - t0) / 1000).toFixed(1)} s (bias field, p1/p99, resampling, crop/pad: wasm)`,
  );
  // the class names a checkpoint records: the dataset's, else 'class k'
  const classes = ds.classes ?? Array.from({ length: s.classes.length }, (_, k) => `class ${k}`);
  return { ds, tr: s.train, va: s.val, te: s.test, classes };
}

/** Fine-tunes with a progress bar, checkpointing to <out>/last.safetensors and best.safetensors. */
async function fit<T>(
  model: UNet<T>,
  tr: PreparedVolume[],
  va: PreparedVolume[],
  opts: FinetuneOptions,
  out: string,
  resume: TrainResume | undefined,
) {
  // last.safetensors (every validation) lets an interrupted run resume; best.safetensors holds the best weights
  const last = join(out, 'last.safetensors'),
    bestPath = join(out, 'best.safetensors');
  if (resume) console.log(`resuming from ${last}`);
  const hooks = {
    every: opts.valEvery,
    resume,
    save: (bytes: Uint8Array) => writeFileAtomic(last, bytes),
    saveBest: (bytes: Uint8Array) => writeFileAtomic(bestPath, bytes),
  };
  const b = bar(opts.iterations, 'train');
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
  return r;
}

/** The test volumes' scores, printed; and the overlay of the first one (--png). */
async function testScores<T>(model: UNet<T>, te: PreparedVolume[], classes: string[], png?: string) {
  if (!te.length) return { meanDice: NaN, volumes: [] };
  const scores = await evaluateVolumes(model, te);
  const meanDice = printScores(`3-D Dice at native resolution on ${te.length} held-out test volumes`, classes, scores);
  if (png) {
    const v = te[0];
    const labels = await nativeLabels(v, await predictVolume(model, v), classes.length);
    await writeFileAtomic(png, overlayPng(v, labels, classes));
    console.log(`overlay of ${v.name}, middle slice, at its own resolution: ${png}`);
  }
  const volumes = scores.map((s) => ({
    name: s.name,
    dice: byClass(classes, s.dice),
    hd95: byClass(classes, s.hd95),
    meanForeground: s.meanForeground,
  }));
  return { meanDice, volumes };
}

/** Supervised training; returns what --json prints (meanDice: the test volumes' mean foreground Dice, NaN without any). */
export async function train(a: TrainArgs) {
  const p = preset(a.preset, a);
  // before any work: the --png folder, temp files of a killed run, what --resume reads (src/cli/outputs.ts)
  const resume = await prepareTrainOutputs(a);
  const { ds, tr, va, te, classes } = await trainData(a, p);
  const K = classes.length;
  const { ob, be } = await runtime();
  const model = new UNet(be, paperUNet(K, p.width), a.seed);
  if (a.init) await initFromPretrained(model, a.init);
  console.log(`model: the paper's UNet at width ×${p.width}, ${model.params.count} parameters`);
  const opts = finetuneOptions(p, a, K);
  const r = await fit(model, tr, va, opts, a.out, resume);
  const ckpt = join(a.out, 'model.safetensors');
  const config = {
    unet: model.config,
    preprocess: gridPreprocess(p),
    grid: gridOf(p),
    width: p.width,
    backend: ob.description,
    classes,
    preset: a.preset,
    dataset: ds.generator ?? ds.root,
  };
  const meta = { stage: 'supervised', iteration: opts.iterations, bestValDice: r.best, config, state: null };
  await writeFileAtomic(ckpt, await saveParams(model.params, meta));
  console.log(`checkpoint: ${ckpt}`);
  const test = await testScores(model, te, classes, a.png);
  ob.close();
  return {
    data: a.data,
    preset: a.preset,
    grid: config.grid,
    width: p.width,
    backend: ob.description,
    settings: {
      iterations: opts.iterations,
      batch: opts.batch,
      seed: a.seed,
      loss: a.loss ?? 'dice',
      mixup: a.mixup ?? null,
      init: a.init ?? null,
      resumed: Boolean(resume),
    },
    labeledVolumes: tr.map((v) => v.name),
    classes,
    validation: { bestDice: r.best, bestIteration: r.bestIteration },
    test: { volumes: test.volumes, meanDice: test.meanDice },
    meanDice: test.meanDice,
    outputs: { out: a.out, checkpoint: ckpt, png: te.length && a.png ? a.png : null },
  };
}
