// The library's task-level API: NIfTI bytes in, checkpoints, label maps and ONNX bytes out, the same in Node,
// Deno and browsers (no file system: the caller owns storage). A Session holds one GPU runtime and one model;
// createTrainer (trainer.ts) runs it in the calling thread or in a worker. Long loops can be cancelled: they stop
// after the current step and hand back a checkpoint that resumes them.

import { checkCount } from '../util/check.ts';
import { type BackendKind, type OpenedBackend, openBackend } from '../ops/open-backend.ts';
import { UNet, paperUNet } from '../model/unet.ts';
import { readNifti, writeNifti } from '../io/nifti.ts';
import {
  prepareVolume,
  preprocessable,
  labelsFromProbabilities,
  type PreparedVolume,
  type PreprocessOptions,
} from '../data/pipeline.ts';
import { finetune, evaluateVolumes, predictVolume, PAPER_FINETUNE, type VolumeScore } from '../train/finetune.ts';
import { decodeSafetensors, loadParams, saveParams, splitBest, withBest } from '../train/checkpoint.ts';
import { isLocal, loadPretrained, type PretrainOptions } from '../contrastive/pretrain.ts';
import { memoryStageStore, runStages, stageIterations } from '../contrastive/stages.ts';
import type { GlobalStrategy, LocalStrategy } from '../contrastive/batches.ts';
import { stageOptions } from '../contrastive/stages.ts';
import { PRESETS, type Preset, checkGridOverrides } from '../presets.ts';
import { exportOnnx } from '../onnx/onnx.ts';

/** A NIfTI volume (.nii or .nii.gz bytes) and optionally its label map; `name` appears in every error about it. */
export interface VolumeFile {
  name: string;
  image: Uint8Array;
  label?: Uint8Array;
}

/** A volume's scores with the class names: `classes[k]` names `dice[k]` and `hd95[k]`; `byClass` keys them by name. */
export interface NamedVolumeScore extends VolumeScore {
  classes: string[];
  byClass: Record<string, { dice: number; hd95: number }>;
}

export interface SessionOptions {
  /** network input side (px, a multiple of 32), in-plane spacing (mm), channel width multiplier */
  size?: number;
  targetSpacing?: number;
  width?: number;
  /** class names, background first (default: background + one per label value found) */
  classes?: string[];
  seed?: number;
  /** webgpu, wasm (WebAssembly SIMD on the CPU), or auto (default: a hardware WebGPU adapter, else wasm) */
  backend?: BackendKind;
  /** wasm backend threads (default: every core the runtime reports; 1 where workers cannot share memory) */
  threads?: number;
}

export interface StageProgress {
  stage: string;
  iteration: number;
  iterations: number;
  loss: number;
  valDice?: number;
  best?: number;
}
export type ProgressFn = (p: StageProgress) => void;
/** Receives a resumable checkpoint of `stage` after `iteration` (e.g. to keep it in OPFS or IndexedDB). */
export type CheckpointFn = (bytes: Uint8Array, iteration: number, stage: string) => void;

/** Periodic resumable checkpoints of a training call. */
export interface CheckpointRequest {
  checkpointEvery?: number;
  onCheckpoint?: CheckpointFn;
}

export interface PretrainRequest extends CheckpointRequest {
  /** global strategy (stage 1) and optional local strategy (stage 2) */
  strategy?: GlobalStrategy;
  local?: LocalStrategy;
  iterations?: number;
  /** a checkpoint returned by an earlier, cancelled pretrain call: continue it */
  resume?: Uint8Array;
  onProgress?: ProgressFn;
}

/** The stages a pretrain call runs, by the names its progress reports and checkpoints carry, in order. */
export const pretrainStageNames = (r: Pick<PretrainRequest, 'strategy' | 'local'>): string[] =>
  [r.strategy ?? 'GD', ...(r.local ? [r.local] : [])].map((s) => `pretrain-${s}`);

export interface FinetuneRequest extends CheckpointRequest {
  validation?: VolumeFile[];
  /** train only on slices with some foreground label (labels drawn on a few slices; the rest are unlabeled) */
  labeledSlicesOnly?: boolean;
  iterations?: number;
  batch?: number;
  valEvery?: number;
  /** Mixup on the labeled batch with Beta(α, α) */
  mixup?: number;
  /** start from the last pretrain call's weights (default true when there was one) */
  usePretrained?: boolean;
  /** start from this pre-training checkpoint instead (one that pretrain returned, e.g. kept across a reload) */
  init?: Uint8Array;
  resume?: Uint8Array;
  onProgress?: ProgressFn;
}

/** What a training call hands back: the checkpoint (resumable when `stopped`), and whether it was cancelled. */
export interface TrainResult {
  checkpoint: Uint8Array;
  stopped: boolean;
  iteration: number;
  bestValDice?: number;
}

export interface Segmentation {
  /** the label map as .nii.gz bytes, on the input's grid and affine */
  labels: Uint8Array;
  /** foreground predicted on the edge of the network's centre crop: anatomy outside the crop may be missed */
  cropWarning: string | null;
}

/** Names the best weights inside a resume checkpoint in errors (finetune's resumedBest). */
const BUNDLED_BEST = 'bundled in it since 2026-12-07; an older checkpoint lacks them: fine-tune again';

/** The grid and width of the `quick` preset (presets.ts), the CLI's quickstart: one table for every entry point. */
export const DEFAULT_SESSION = {
  size: PRESETS.quick.size,
  targetSpacing: PRESETS.quick.targetSpacing,
  width: PRESETS.quick.width,
  seed: 1,
};

export class Session {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private model: UNet<any> | null = null;
  private pretrained: { bytes: Uint8Array; after: 'global' | 'local'; block: number } | null = null;
  private classes: string[] | null;
  private stopRequested = false;
  /** the last finished iteration of the running call */
  private iteration = 0;
  readonly pre: PreprocessOptions;

  readonly be: OpenedBackend['be'];

  private constructor(
    private readonly opened: OpenedBackend,
    readonly o: Required<Omit<SessionOptions, 'classes' | 'backend' | 'threads'>>,
    classes?: string[],
  ) {
    this.be = opened.be;
    this.classes = classes ?? null;
    this.pre = { targetSpacing: o.targetSpacing, size: o.size, biasField: true };
  }

  static async create(o: SessionOptions = {}): Promise<Session> {
    const { backend, threads, classes, ...grid } = o;
    const opts = { ...DEFAULT_SESSION, ...grid };
    checkGridOverrides({ size: opts.size, spacing: opts.targetSpacing });
    return new Session(await openBackend(backend ?? 'auto', { threads }), opts, classes);
  }

  /** The backend this session computes on, in words (for a WebGPU backend, its adapter). */
  adapter(): string {
    return this.opened.description;
  }

  /**
   * Ask the running pretrain/finetune call to stop after its current step (it returns a resumable checkpoint).
   * Returns the last iteration that call had finished when asked.
   */
  cancel(): number {
    this.stopRequested = true;
    return this.iteration;
  }

  private async prepare(vols: VolumeFile[], needLabels: boolean): Promise<PreparedVolume[]> {
    const out: PreparedVolume[] = [];
    for (const v of vols) {
      if (needLabels && !v.label)
        throw new Error(`${v.name}: a labeled volume is needed here, but no label map was given`);
      const img = readNifti(v.image, v.name, { checkHeader: preprocessable(this.pre) }); // refused from its header if it cannot fit
      const lab = v.label ? readNifti(v.label, `${v.name} (labels)`) : null;
      const p = await prepareVolume(img, lab, this.pre, this.classes?.length);
      out.push({ ...p, name: v.name });
    }
    return out;
  }

  private numClasses(vols: PreparedVolume[]): number {
    if (this.classes) return this.classes.length;
    let max = 0;
    for (const v of vols) if (v.labels) for (const x of v.labels) if (x > max) max = x;
    this.classes = ['background', ...Array.from({ length: max }, (_, k) => `class${k + 1}`)];
    return this.classes.length;
  }

  /**
   * A new training call starts uncancelled. Called synchronously on entry, before the call's first await: a
   * cancel() that arrives while its volumes are being read then stops it after its first step (resetting the flag
   * later, as each stage began, dropped such a cancel).
   */
  private beginCall(): void {
    this.stopRequested = false;
    this.iteration = 0;
  }

  private hooks(
    stage: string,
    r: CheckpointRequest,
    save: (b: Uint8Array) => void,
    resume?: Uint8Array,
    source = 'resume checkpoint',
  ) {
    return {
      every: r.checkpointEvery ?? Number.MAX_SAFE_INTEGER,
      stop: () => this.stopRequested,
      resume: resume ? { bytes: resume, source } : undefined,
      save: async (b: Uint8Array, iteration: number) => {
        save(b);
        r.onCheckpoint?.(b.slice(), iteration, stage);
      },
    };
  }

  /** Contrastive pre-training on unlabeled volumes (labels, if given, are not used). */
  async pretrain(volumes: VolumeFile[], r: PretrainRequest = {}): Promise<TrainResult> {
    this.beginCall();
    checkRequest('pretrain', r);
    const vols = (await this.prepare(volumes, false)).map((v) => ({
      slices: v.slices,
      nz: v.nz,
      name: v.original.source,
    }));
    const K = this.classes?.length ?? 4; // the heads thrown away after pre-training do not depend on K
    const cfg = paperUNet(K, this.o.width),
      p = { ...PRESETS.small, size: this.o.size, targetSpacing: this.o.targetSpacing };
    const strategies: (GlobalStrategy | LocalStrategy)[] = [r.strategy ?? 'GD', ...(r.local ? [r.local] : [])];
    // a resumed call continues the stage its checkpoint belongs to and skips the stages before it
    const resumed = r.resume
      ? String(JSON.parse(decodeSafetensors(r.resume, 'resume checkpoint').meta.glocal ?? '{}').stage ?? '')
      : null;
    const names = pretrainStageNames(r),
      first = resumed === null ? 0 : names.indexOf(resumed);
    if (first < 0) throw new Error(`resume checkpoint: it belongs to stage '${resumed}', not to ${names.join(' or ')}`);
    const stages = strategies.slice(first).map((strategy, i) => ({
      name: names[first + i],
      pretrain: sessionStage(strategy, p, vols.length, r.iterations ?? 500, this.o.seed),
    }));
    const resume = r.resume && { bytes: r.resume, source: 'resume checkpoint' };
    const res = await runStages({
      be: this.be,
      cfg,
      size: this.o.size,
      vols,
      stages,
      every: r.checkpointEvery ?? Number.MAX_SAFE_INTEGER,
      stop: () => this.stopRequested,
      store: memoryStageStore(stages[0].name, resume, (stage, b, iteration) =>
        r.onCheckpoint?.(b.slice(), iteration, stage),
      ),
      onProgress: (st, iteration, loss) => {
        this.iteration = iteration;
        r.onProgress?.({ stage: st.name, iteration, iterations: stageIterations(st), loss });
      },
    });
    const out = { checkpoint: res.bytes, stopped: res.stopped, iteration: res.iteration };
    // a copy: the checkpoint handed back may be transferred to another thread (and detached here)
    if (!res.stopped) this.pretrained = pretrainingOf(res.bytes.slice(), 'pre-training');
    return out;
  }

  /** Fine-tune a segmentation UNet on labeled volumes (from the pre-trained weights when there are some). */
  async finetune(labeled: VolumeFile[], r: FinetuneRequest = {}): Promise<TrainResult> {
    this.beginCall();
    checkRequest('finetune', r);
    let train = await this.prepare(labeled, true);
    const val = await this.prepare(r.validation ?? [], true);
    if (r.labeledSlicesOnly) train = train.map(labeledSlices).filter((v) => v.nz > 0);
    if (!train.length) throw new Error('finetune: no labeled slices in the labeled volumes');
    const K = this.numClasses([...train, ...val]);
    const model = new UNet(this.be, paperUNet(K, this.o.width), this.o.seed);
    const init = r.init ? pretrainingOf(r.init, 'init checkpoint') : r.usePretrained !== false ? this.pretrained : null;
    if (init) loadPretrained(model, init.bytes, 'pre-training', init.after, init.block);
    const iterations = r.iterations ?? 800,
      valEvery = r.valEvery ?? Math.max(1, Math.round(iterations / 4));
    const opts = {
      ...PAPER_FINETUNE,
      iterations,
      batch: r.batch ?? 8,
      valEvery,
      seed: this.o.seed,
      augment: { ...PAPER_FINETUNE.augment, mixup: r.mixup ?? null },
    };
    let last: Uint8Array | null = null,
      it = 0;
    // a resume checkpoint carries the best weights so far inside it (withBest): resumed, the run ends on the same
    // best weights as an uninterrupted one, not on its last weights under the best score
    const resumed = r.resume ? splitBest(r.resume, 'resume checkpoint') : null;
    let best = resumed?.best ?? null;
    const hooks = this.hooks('finetune', r, (b) => (last = b), resumed?.resume);
    const res = await finetune(
      model,
      train,
      val,
      opts,
      (pr) => {
        it = this.iteration = pr.iteration;
        r.onProgress?.({
          stage: 'finetune',
          iteration: pr.iteration,
          iterations,
          loss: pr.loss,
          valDice: pr.valDice,
          best: pr.best,
        });
      },
      {
        ...hooks,
        resume: hooks.resume && { ...hooks.resume, best: best ?? undefined, bestSource: BUNDLED_BEST },
        saveBest: async (b) => {
          best = b;
        },
        save: (b, iteration) => hooks.save(best ? withBest(b, best) : b, iteration),
      },
    );
    this.setModel(model);
    if (res.stopped) return { checkpoint: last!, stopped: true, iteration: it, bestValDice: res.best };
    return {
      checkpoint: await this.modelCheckpoint(iterations, res.best),
      stopped: false,
      iteration: it,
      bestValDice: res.best,
    };
  }

  /** The current model as a checkpoint that `loadModel` (and `glocal segment --model`) accepts. */
  private modelCheckpoint(iteration: number, best: number | null): Promise<Uint8Array> {
    const m = this.requireModel();
    return saveParams(m.params, {
      stage: 'supervised',
      iteration,
      bestValDice: best,
      config: { unet: m.config, preprocess: this.pre, classes: this.classes },
      state: null,
    });
  }

  /** Load a model checkpoint (from finetune, or `glocal train`). */
  async loadModel(bytes: Uint8Array, source = 'model checkpoint'): Promise<void> {
    const meta = JSON.parse(decodeSafetensors(bytes, source).meta.glocal ?? '{}');
    if (!meta.config?.unet || !meta.config?.preprocess)
      throw new Error(`${source}: the checkpoint does not record its network and preprocessing`);
    const model = new UNet(this.be, meta.config.unet, 0);
    loadParams(model.params, bytes, source);
    Object.assign(this.pre, meta.config.preprocess);
    this.classes = meta.config.classes ?? null;
    this.setModel(model);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private setModel(m: UNet<any>): void {
    this.model?.params.dispose();
    this.model = m;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private requireModel(): UNet<any> {
    if (!this.model) throw new Error('Session: no model yet (call finetune or loadModel first)');
    return this.model;
  }

  /** Segment a volume: a label map on its own grid, as .nii.gz bytes. */
  async segment(volume: VolumeFile): Promise<Segmentation> {
    const model = this.requireModel(),
      [p] = await this.prepare([{ name: volume.name, image: volume.image }], false);
    const probs = await predictVolume(model, p);
    const { volume: labels } = await labelsFromProbabilities(p, probs, model.config.numClasses);
    return {
      labels: writeNifti(labels, { datatype: 'uint8', gzip: true }),
      cropWarning: cropWarning(p, probs, model.config.numClasses),
    };
  }

  /** 3-D Dice and HD95 per class of each labeled volume. */
  /** Dice and HD95 per class of each labeled volume, the class names beside the numbers. */
  async evaluate(volumes: VolumeFile[]): Promise<NamedVolumeScore[]> {
    const scores = await evaluateVolumes(this.requireModel(), await this.prepare(volumes, true));
    const classes = this.classes ?? scores[0]?.dice.map((_, k) => (k === 0 ? 'background' : `class${k}`)) ?? [];
    return scores.map((s) => ({
      ...s,
      classes,
      byClass: Object.fromEntries(classes.map((c, k) => [c, { dice: s.dice[k], hd95: s.hd95[k] }])),
    }));
  }

  exportOnnx(): Promise<Uint8Array> {
    return exportOnnx(this.requireModel(), { preprocess: this.pre, classes: this.classes ?? undefined });
  }

  dispose(): void {
    this.opened.close();
  }
}

/** A Session's stage: the small preset's batches, volume groups no larger than the volumes at hand (G^D pairs them). */
function sessionStage(
  strategy: GlobalStrategy | LocalStrategy,
  p: Preset,
  volumes: number,
  iterations: number,
  seed: number,
): PretrainOptions {
  const o: PretrainOptions = { ...stageOptions(strategy, p), iterations, seed };
  o.volumes = Math.min(o.volumes, strategy === 'GD' ? volumes - (volumes % 2) : volumes);
  if (strategy !== 'GR' && strategy !== 'LR' && o.volumes < 2)
    throw new Error(`pre-training ${strategy}: needs at least 2 volumes, got ${volumes}`);
  return o;
}

/** The counts of a training request, refused before its volumes are read (util/check.ts). */
function checkRequest(call: string, r: PretrainRequest & FinetuneRequest): void {
  for (const k of ['iterations', 'batch', 'valEvery', 'checkpointEvery'] as const)
    if (r[k] !== undefined) checkCount(`${call}: ${k}`, r[k]!);
}

/** A pre-training checkpoint and what fine-tuning takes from it (§5.2: the encoder, and decoder blocks after a local stage). */
function pretrainingOf(
  bytes: Uint8Array,
  source: string,
): { bytes: Uint8Array; after: 'global' | 'local'; block: number } {
  const meta = JSON.parse(decodeSafetensors(bytes, source).meta.glocal ?? '{}');
  const o = meta.config?.pretrain as PretrainOptions | undefined;
  if (!String(meta.stage).startsWith('pretrain-') || !o) throw new Error(`${source}: not a pre-training checkpoint`);
  return { bytes, after: isLocal(o.strategy) ? 'local' : 'global', block: o.block };
}

/** The slices of a prepared volume whose label map has some foreground (for sparsely drawn labels). */
function labeledSlices(v: PreparedVolume): PreparedVolume {
  const P = v.geometry.network[0] * v.geometry.network[1],
    keep: number[] = [];
  for (let z = 0; z < v.nz; z++) if (v.labels!.subarray(z * P, (z + 1) * P).some((x) => x > 0)) keep.push(z);
  const slices = new Float32Array(keep.length * P),
    labels = new Float32Array(keep.length * P);
  keep.forEach((z, i) => {
    slices.set(v.slices.subarray(z * P, (z + 1) * P), i * P);
    labels.set(v.labels!.subarray(z * P, (z + 1) * P), i * P);
  });
  return { ...v, slices, labels, nz: keep.length };
}

/**
 * The network sees a centre crop of each slice (when the resampled slice is larger than the input). Foreground
 * predicted within 1 px of a cropped edge suggests the anatomy continues outside what the network saw.
 */
export function cropWarning(p: PreparedVolume, probs: Float32Array, K: number): string | null {
  const S = p.geometry.network[0],
    [cropX, cropY] = croppedSides(p);
  if (!cropX && !cropY) return null;
  let edge = 0;
  for (let z = 0; z < p.nz; z++)
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const onEdge = (cropX && (x === 0 || x === S - 1)) || (cropY && (y === 0 || y === S - 1));
        if (!onEdge) continue;
        const o = ((z * S + y) * S + x) * K;
        let best = 0;
        for (let k = 1; k < K; k++) if (probs[o + k] > probs[o + best]) best = k;
        if (best !== 0) edge++;
      }
  return edge
    ? `${p.name}: ${edge} foreground pixels lie on the edge of the network's centre crop; structures outside the crop are not segmented`
    : null;
}

function croppedSides(p: PreparedVolume): [boolean, boolean] {
  const g = p.geometry;
  return [g.canvas[0] > g.network[0], g.canvas[1] > g.network[1]];
}
