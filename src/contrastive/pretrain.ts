// Contrastive pre-training stages (paper-spec §1, §5.1–§5.2): stage 1 trains the encoder + g1 with a global
// loss; stage 2 freezes the encoder (BN still in training mode) and trains decoder blocks 1..l + g2 + the
// region dense layer with a local loss; fine-tuning then starts from the encoder and decoder blocks 1..l.
// Only trainable weights move between stages (no BN moving averages, no optimizer state), as the reference.

import { checkCount } from '../util/check.ts';
import type { Backend } from '../ops/backend.ts';
import { Tape, Var } from '../autodiff/tape.ts';
import * as op from '../autodiff/ops.ts';
import { UNet, type UNetConfig } from '../model/unet.ts';
import { Rng } from '../util/random.ts';
import { loadParams, saveParams } from '../train/checkpoint.ts';
import { type CheckpointHooks, iterate, resumeLoop, stopOf } from '../train/iterate.ts';
import {
  type GlobalStrategy,
  type LocalStrategy,
  type PretrainVolume,
  ViewMaker,
  checkPartitions,
  strategyBatch,
  strategyTerms,
} from './batches.ts';
import { denseRegionTable, regionTable, releaseTerms, uploadTerms } from './terms.ts';

export interface PretrainOptions {
  strategy: GlobalStrategy | LocalStrategy;
  iterations: number;
  /** temperature of the cosine similarity (§3.1) */
  tau: number;
  /** slices per batch for G^R and L^R (each gives two views) */
  batch: number;
  /** volumes per group for G^{D−}, L^D (3) and G^D (an even number: volume 2u pairs with 2u + 1) */
  volumes: number;
  /** partitions per volume (S, §3.2) */
  partitions: number;
  /** decoder block of the local loss (l, §4.1) */
  block: number;
  /** 3 (3×3 regions through the dense layer) or 1 (pixel vectors) */
  regionSize: 3 | 1;
  /** the reference's 13 regions with 5 negatives each, or a dense grid (every 4 px, all other anchors negative) */
  regions: 'reference' | 'dense';
  /** L^D only: also the same region of other partitions' images as negatives (a deviation; terms.ts localDTerms) */
  crossPartition?: boolean;
  seed: number;
}

/** The reference's settings (§5.1), the same for every strategy but the batch and the volumes per batch. */
const paperStage = (strategy: GlobalStrategy | LocalStrategy, batch: number, volumes: number): PretrainOptions => ({
  strategy,
  iterations: 10001,
  tau: 0.1,
  batch,
  volumes,
  partitions: 4,
  block: 3,
  regionSize: 3,
  regions: 'reference',
  seed: 1,
});

/** G^D with 6 volumes fills the 48-image batch of B = 12 with real slices. */
export const PAPER_PRETRAIN: Record<GlobalStrategy | LocalStrategy, PretrainOptions> = {
  GR: paperStage('GR', 12, 0),
  'GD-': paperStage('GD-', 12, 3),
  GD: paperStage('GD', 12, 6),
  LR: paperStage('LR', 10, 0),
  LD: paperStage('LD', 12, 3),
};

export const isLocal = (s: string): s is LocalStrategy => s === 'LR' || s === 'LD';

/** The network of a pre-training stage: the UNet with g1 (global) or g2 + region dense (local). */
export function pretrainModel<T>(
  be: Backend<T>,
  cfg: UNetConfig,
  size: number,
  o: PretrainOptions,
  seed: number,
): UNet<T> {
  return new UNet(
    be,
    cfg,
    seed,
    isLocal(o.strategy) ? { local: { block: o.block, regionSize: o.regionSize } } : { global: { inputSize: size } },
  );
}

/** Side of decoder block l's output for input side S (block 1 sits one level above the bottleneck). */
export function decoderSide(cfg: UNetConfig, S: number, l: number): number {
  return S / 2 ** (cfg.encoder.length - 1 - l);
}

interface StageState {
  rng: Rng['state'];
}

/** Continue a pre-training stage (contrastive or pretext) from its checkpoint: weights, Adam, RNG; the next iteration. */
export function resumeStage<T>(
  model: UNet<T>,
  resume: NonNullable<CheckpointHooks['resume']>,
  stage: string,
  rng: Rng,
): number {
  return resumeLoop<T, StageState>(model.params, resume, stage, rng).start;
}

/** A stage's checkpoint after `iteration`: everything resumeStage needs. */
export function stageCheckpoint<T>(
  model: UNet<T>,
  stage: string,
  iteration: number,
  config: object,
  rng: Rng,
): Promise<Uint8Array> {
  const state: StageState = { rng: rng.state };
  return saveParams(model.params, {
    stage,
    iteration,
    bestValDice: null,
    config: { unet: model.config, ...config },
    state,
  });
}

/**
 * A pre-training stage's loop (contrastive or pretext): resume from the checkpoint when there is one, then `step`
 * to the stage's budget with its checkpoints, stop request and progress, as every stage runs.
 */
export async function iterateStage<T>(
  model: UNet<T>,
  stage: { name: string; iterations: number; config: object; rng: Rng },
  step: () => Promise<number>,
  onProgress: (iteration: number, loss: number) => void,
  ckpt?: CheckpointHooks,
): Promise<{ losses: number[]; stopped: boolean }> {
  const { name, rng } = stage;
  const start = ckpt?.resume ? resumeStage(model, ckpt.resume, name, rng) : 1;
  return iterate(step, {
    start,
    iterations: stage.iterations,
    lossName: `${name} loss`,
    ...stopOf(ckpt),
    checkpoint: ckpt && { ...ckpt, snapshot: (it) => stageCheckpoint(model, name, it, stage.config, rng) },
    onProgress: (it, loss) => onProgress(it, loss),
  });
}

/**
 * Run one pre-training stage on unlabeled volumes (slices S×S, S the model's input size). Local stages freeze
 * the encoder first. With checkpoint hooks the stage saves every `every` iterations and resumes bit for bit.
 */
export async function pretrain<T>(
  model: UNet<T>,
  vols: PretrainVolume[],
  S: number,
  o: PretrainOptions,
  onProgress: (iteration: number, loss: number) => void = () => {},
  ckpt?: CheckpointHooks,
): Promise<{ losses: number[]; stopped: boolean }> {
  checkCount('pre-training iterations', o.iterations);
  const be = model.be,
    local = isLocal(o.strategy),
    stage = `pretrain-${o.strategy}`;
  if (o.strategy !== 'GR' && o.strategy !== 'LR') checkPartitions(vols, o.partitions);
  model.setTrainable((n) => n.startsWith('enc'), !local);
  const side = decoderSide(model.config, S, o.block);
  const table = !local
    ? undefined
    : o.regions === 'dense'
      ? denseRegionTable(side, o.regionSize)
      : regionTable(side, o.regionSize);
  const terms = uploadTerms(be, strategyTerms(o.strategy, { ...o, table }));
  const positions = table ? be.fromHost(table.positions.flat(), [table.positions.length, 2]) : null;
  const views = await ViewMaker.create(S);
  const rng = new Rng(o.seed);
  try {
    return await iterateStage(
      model,
      { name: stage, iterations: o.iterations, config: { pretrain: o }, rng },
      async () => {
        const batch = strategyBatch(o.strategy, vols, views, rng, o);
        const x = be.fromHost(batch.images, [batch.count, S, S, 1]);
        const tp = new Tape(be);
        const levels = model.encode(tp, new Var(x, false), true);
        const z = local
          ? model.localEmbeddings(tp, model.decode(tp, levels, true, o.block)[o.block - 1], positions!)
          : model.globalHead(tp, levels[levels.length - 1]);
        const loss = op.contrastiveLoss(tp, z, terms, o.tau);
        tp.backward(loss);
        model.params.adamStep();
        const value = (await be.toHost(loss.value))[0];
        tp.dispose();
        be.release(x);
        return value;
      },
      onProgress,
      ckpt,
    );
  } finally {
    releaseTerms(be, terms);
    if (positions) be.release(positions);
    model.setTrainable(() => true, true);
  }
}

/** Which weights a stage hands on (§5.2): after stage 1 the encoder; after stage 2 the encoder and decoder blocks 1..l. */
export function transferred(name: string, after: 'global' | 'local', block: number): boolean {
  if (name.startsWith('enc')) return true;
  const m = /^dec(\d+)_/.exec(name);
  return after === 'local' && m !== null && Number(m[1]) <= block;
}

/** Load the transferred weights of a pre-training checkpoint into `model`; everything else keeps its init. */
export function loadPretrained<T>(
  model: UNet<T>,
  bytes: Uint8Array,
  source: string,
  after: 'global' | 'local',
  block: number,
): void {
  loadParams(model.params, bytes, source, { weightsOnly: true, skip: (n) => !transferred(n, after, block) });
}
