// The one pre-training driver: a global stage then a local stage that starts from its encoder (§5.2), or one
// pretext stage. The CLI's pretrain command, the experiment runner and Session.pretrain differ only in where
// checkpoints live (a StageStore) and what they report, so skipping, resuming and cancelling behave the same.

import type { Backend } from '../ops/backend.ts';
import type { UNet, UNetConfig } from '../model/unet.ts';
import { Rng } from '../util/random.ts';
import type { CheckpointHooks } from '../train/iterate.ts';
import { fileExists, joinPath, readFileBytes, writeFileAtomic } from '../io/files.ts';
import type { GlobalStrategy, LocalStrategy, PretrainVolume } from './batches.ts';
import type { Preset } from '../presets.ts';
import {
  PAPER_PRETRAIN,
  type PretrainOptions,
  loadPretrained,
  pretrain,
  pretrainModel,
  stageCheckpoint,
} from './pretrain.ts';
import { type PretextOptions, pretextModel, pretrainPretext } from './pretext.ts';

/** One stage: `name` keys its checkpoints in the store (a file name, or the stage tag a Session reports). */
export type StageSpec = { name: string; pretrain: PretrainOptions } | { name: string; pretext: PretextOptions };

/** Where a driver's checkpoints live: files (CLI, experiment) or memory (Session). */
export interface StageStore {
  /** a finished stage's checkpoint: that stage is not run again */
  finished(stage: string): Promise<Uint8Array | null>;
  /** a checkpoint of an interrupted run of the stage, to continue from */
  partial(stage: string): Promise<{ bytes: Uint8Array; source: string } | undefined>;
  /** a periodic, resumable checkpoint */
  save(stage: string, bytes: Uint8Array, iteration: number): Promise<void>;
  /** the stage's result; `curve` holds [iteration, loss] of every step this call ran */
  finish(stage: string, bytes: Uint8Array, curve: [number, number][]): Promise<void>;
}

export interface StageRun<T> {
  be: Backend<T>;
  cfg: UNetConfig;
  /** the network's input side */
  size: number;
  vols: PretrainVolume[];
  /** in order; a local stage starts from the encoder of the stage before it */
  stages: StageSpec[];
  store: StageStore;
  /** iterations between periodic checkpoints */
  every: number;
  stop?: () => boolean;
  signal?: AbortSignal;
  /** before a stage trains (not for a finished or zero-iteration stage) */
  onStage?(spec: StageSpec, resume?: { source: string }): void;
  onProgress?(spec: StageSpec, iteration: number, loss: number): void;
}

/** The first pre-training seed (the only one before --pretrain-seeds), and the fine-tuned network's init seed under `init: 'fixed'`. */
export const PRETRAIN_SEED = 1;

/** A contrastive stage's options at a preset's budget and batch sizes. */
export function stageOptions(
  strategy: GlobalStrategy | LocalStrategy,
  p: Pick<Preset, 'pretrainIterations' | 'gBatch' | 'lBatch' | 'gdVolumes' | 'groupVolumes'>,
  seed = PRETRAIN_SEED,
): PretrainOptions {
  return {
    ...PAPER_PRETRAIN[strategy],
    iterations: p.pretrainIterations,
    seed,
    batch: strategy === 'GR' ? p.gBatch : p.lBatch,
    volumes: strategy === 'GD' ? p.gdVolumes : p.groupVolumes,
  };
}

export const stageIterations = (s: StageSpec) => ('pretrain' in s ? s.pretrain : s.pretext).iterations;

/**
 * Run the stages in order: a finished stage is taken from the store, an interrupted one resumes from its partial
 * checkpoint. Returns the last stage's checkpoint, whether a stop request ended the run (then that checkpoint
 * resumes it) and the last iteration run (0 if none).
 */
export async function runStages<T>(
  r: StageRun<T>,
): Promise<{ bytes: Uint8Array; stopped: boolean; iteration: number }> {
  let bytes: Uint8Array | null = null,
    iteration = 0;
  const progress = (spec: StageSpec, it: number, loss: number) => {
    iteration = it;
    r.onProgress?.(spec, it, loss);
  };
  for (const spec of r.stages) {
    const res: { bytes: Uint8Array; stopped: boolean } = await runStage(r, spec, bytes, progress);
    bytes = res.bytes;
    if (res.stopped) return { bytes: res.bytes, stopped: true, iteration };
  }
  if (!bytes) throw new Error('pre-training: no stages to run');
  return { bytes, stopped: false, iteration };
}

function stageModel<T>(r: StageRun<T>, spec: StageSpec): UNet<T> {
  return 'pretrain' in spec
    ? pretrainModel(r.be, r.cfg, r.size, spec.pretrain, spec.pretrain.seed)
    : pretextModel(r.be, r.cfg, r.size, spec.pretext.task, spec.pretext.seed);
}

/** One stage: taken from the store if finished, else trained (from `init`'s encoder for a local stage). */
async function runStage<T>(
  r: StageRun<T>,
  spec: StageSpec,
  init: Uint8Array | null,
  progress: (spec: StageSpec, it: number, loss: number) => void,
): Promise<{ bytes: Uint8Array; stopped: boolean }> {
  const done = await r.store.finished(spec.name);
  if (done) return { bytes: done, stopped: false };
  const model = stageModel(r, spec);
  try {
    if (init && 'pretrain' in spec) loadPretrained(model, init, 'stage 1', 'global', spec.pretrain.block);
    if (stageIterations(spec) === 0 && 'pretrain' in spec) {
      // nothing to train: the stage's starting point is its result
      const o = spec.pretrain,
        bytes = await stageCheckpoint(model, `pretrain-${o.strategy}`, 0, { pretrain: o }, new Rng(o.seed));
      await r.store.finish(spec.name, bytes, []);
      return { bytes, stopped: false };
    }
    const resume = await r.store.partial(spec.name);
    r.onStage?.(spec, resume);
    let last: Uint8Array | null = null;
    const curve: [number, number][] = [];
    const ckpt: CheckpointHooks = {
      every: r.every,
      resume,
      stop: r.stop,
      signal: r.signal,
      save: async (b, it) => {
        last = b;
        await r.store.save(spec.name, b, it);
      },
    };
    const onProgress = (it: number, loss: number) => {
      curve.push([it, loss]);
      progress(spec, it, loss);
    };
    const res =
      'pretrain' in spec
        ? await pretrain(model, r.vols, r.size, spec.pretrain, onProgress, ckpt)
        : await pretrainPretext(model, r.vols, r.size, spec.pretext, onProgress, ckpt);
    const bytes = (last ?? resume?.bytes)!; // a resumed stage that had already finished saves nothing new
    if (!res.stopped) await r.store.finish(spec.name, bytes, curve);
    return { bytes, stopped: res.stopped };
  } finally {
    model.params.dispose(); // only its checkpoint moves on
  }
}

/**
 * Stages as files in `dir`: `<name>.last.safetensors` (periodic) and `<name>.safetensors` (finished). `skipFinished`
 * takes finished stages as they are; `resume` continues from the periodic ones; `lossesCsv` writes each stage's
 * curve to `<name>.losses.csv` (the iterations this call ran).
 */
export function fileStageStore(
  dir: string,
  o: { skipFinished: boolean; resume: boolean; lossesCsv?: boolean },
): StageStore {
  const last = (name: string) => joinPath(dir, `${name}.last.safetensors`),
    done = (name: string) => joinPath(dir, `${name}.safetensors`);
  return {
    finished: async (name) => (o.skipFinished && (await fileExists(done(name))) ? readFileBytes(done(name)) : null),
    partial: async (name) =>
      o.resume && (await fileExists(last(name)))
        ? { bytes: await readFileBytes(last(name)), source: last(name) }
        : undefined,
    save: (name, bytes) => writeFileAtomic(last(name), bytes),
    async finish(name, bytes, curve) {
      await writeFileAtomic(done(name), bytes);
      if (o.lossesCsv) {
        const csv = ['iteration,loss', ...curve.map(([it, loss]) => `${it},${loss}`)].join('\n');
        await writeFileAtomic(joinPath(dir, `${name}.losses.csv`), `${csv}\n`);
      }
    },
  };
}

/** Stages in memory: nothing is finished beforehand, and `resume` continues the first stage. */
export function memoryStageStore(
  first: string,
  resume: { bytes: Uint8Array; source: string } | undefined,
  onCheckpoint: (stage: string, bytes: Uint8Array, iteration: number) => void = () => {},
): StageStore {
  return {
    finished: async () => null,
    partial: async (name) => (name === first ? resume : undefined),
    save: async (name, bytes, iteration) => onCheckpoint(name, bytes, iteration),
    finish: async () => {},
  };
}
