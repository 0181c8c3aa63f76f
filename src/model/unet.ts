// The 2D UNet of Chaitanya et al. 2020 (paper-spec §2), written once, forward only, for any backend.
// Conv block = conv (bias, zero-init) → batch norm → ReLU. Decoder block = nearest ×2 upsample → 2×2 conv
// block (TF SAME: pad 0 before, 1 after) → concat [upsampled, skip] → 3×3 conv blocks. Head: 3×3 conv
// blocks, then a 3×3 conv to K logits with no bias, no BN, no activation.

import { type BatchNormOptions, BN_DEFAULTS, type Backend, sameConv } from '../ops/backend.ts';
import type { Tape, Var } from '../autodiff/tape.ts';
import * as op from '../autodiff/ops.ts';
import { ParamSet } from './params.ts';
import { Rng } from '../util/random.ts';
import { Split, type SplitBackend } from '../ops/split.ts';
import type { GpuTensor } from '../runtime/runtime.ts';

export interface UNetConfig {
  inChannels: number;
  numClasses: number;
  /** Output channels of each 3×3 conv block, per encoder level (max-pool between levels). */
  encoder: number[][];
  /** Per decoder block: the 2×2 up-conv's channels and the 3×3 conv blocks after the concat. */
  decoder: { up: number; convs: number[] }[];
  /** 3×3 conv blocks before the final logits conv. */
  head: number[];
}

/**
 * The paper's network (§2.2–2.4); `width` scales every channel count (1 = the paper's; smaller for
 * presets on software GPUs), rounded to a multiple of 4 with at least 4.
 */
export function paperUNet(numClasses = 4, width = 1): UNetConfig {
  const c = (n: number) => Math.max(4, Math.round((n * width) / 4) * 4);
  return {
    inChannels: 1,
    numClasses,
    encoder: [
      [c(16), c(16)],
      [c(32), c(32)],
      [c(64), c(64)],
      [c(128), c(128)],
      [c(128), c(128)],
      [c(128), c(128)],
    ],
    decoder: [
      { up: c(128), convs: [c(128), c(128)] },
      { up: c(128), convs: [c(128), c(128)] },
      { up: c(64), convs: [c(64), c(64)] },
      { up: c(32), convs: [c(32), c(32)] },
      { up: c(16), convs: [c(16)] },
    ],
    head: [c(16), c(16)],
  };
}

/**
 * Bytes of the largest activation (or its gradient) one S×S input gives: every large tensor of a step is the
 * batch times this or less, so it says how many slices fit the GPU's binding limit.
 */
export function largestActivationBytes(cfg: UNetConfig, S: number): number {
  let worst = S * S * Math.max(cfg.inChannels, cfg.numClasses, ...cfg.head);
  cfg.encoder.forEach((convs, level) => {
    worst = Math.max(worst, (S >> level) ** 2 * Math.max(...convs));
  });
  cfg.decoder.forEach((d, j) => {
    const level = cfg.encoder.length - 2 - j,
      skip = cfg.encoder[level][cfg.encoder[level].length - 1];
    worst = Math.max(worst, (S >> level) ** 2 * Math.max(d.up + skip, ...d.convs));
  });
  return 4 * worst;
}

/** The input side must be divisible by this (one 2×2 pooling per encoder level after the first). */
export const sizeMultiple = (cfg: UNetConfig) => 2 ** (cfg.encoder.length - 1);

/** Projection heads for contrastive pre-training (§2.5–2.6), thrown away before fine-tuning. */
export interface HeadsConfig {
  /** g1 on the flattened encoder output: dense 1024 (no bias) → ReLU → dense 128 (no bias); needs the input size */
  global?: { inputSize: number; hidden?: number; out?: number };
  /**
   * g2 on decoder block l: 1×1 conv (no bias) → BN → ReLU → 1×1 conv (no bias), C_l channels; then each
   * region (regionSize² pixels, 3 by default) flattened through one shared dense layer (no bias) to
   * `regionDim` (128) values; 1×1 regions use the C_l-vector directly (§2.6).
   */
  local?: { block: number; regionSize?: 3 | 1; regionDim?: number };
}

/** A 2-level UNet with every kind of layer of the paper's (tests: whole-network gradients, training). */
export function tinyUNet(numClasses = 3): UNetConfig {
  return {
    inChannels: 1,
    numClasses,
    encoder: [
      [8, 8],
      [16, 16],
    ],
    decoder: [{ up: 8, convs: [8] }],
    head: [8],
  };
}

interface ConvBlock<T> {
  w: Var<T>;
  b: Var<T>;
  bn: op.BatchNormState<T>;
  k: number;
}

export class UNet<T> {
  readonly params: ParamSet<T>;
  private encoder: ConvBlock<T>[][] = [];
  private decoder: { up: ConvBlock<T>; convs: ConvBlock<T>[] }[] = [];
  private head: ConvBlock<T>[] = [];
  private logitsW: Var<T>;
  private g1: { w1: Var<T>; w2: Var<T> } | null = null;
  private g2: { w1: Var<T>; bn: op.BatchNormState<T>; w2: Var<T>; region: Var<T> | null; size: 3 | 1 } | null = null;
  bnOptions: BatchNormOptions = BN_DEFAULTS;

  constructor(
    readonly be: Backend<T>,
    readonly config: UNetConfig,
    seed: number,
    readonly heads: HeadsConfig = {},
  ) {
    if (config.decoder.length > config.encoder.length - 1) {
      throw new Error(
        `UNet: ${config.decoder.length} decoder blocks need at least ${config.decoder.length + 1} encoder levels`,
      );
    }
    this.params = new ParamSet(be, new Rng(seed));
    let c = config.inChannels;
    config.encoder.forEach((level, li) => {
      this.encoder.push(
        level.map((co, j) => {
          const blk = this.convBlock(`enc${li + 1}_${j + 1}`, 3, c, co);
          c = co;
          return blk;
        }),
      );
    });
    config.decoder.forEach((blk, bi) => {
      const skipLevel = config.encoder.length - 2 - bi;
      const skipC = lastOf(config.encoder[skipLevel]);
      const up = this.convBlock(`dec${bi + 1}_up`, 2, c, blk.up);
      c = blk.up + skipC;
      const convs = blk.convs.map((co, j) => {
        const b = this.convBlock(`dec${bi + 1}_${j + 1}`, 3, c, co);
        c = co;
        return b;
      });
      this.decoder.push({ up, convs });
    });
    this.head = config.head.map((co, j) => {
      const b = this.convBlock(`head_${j + 1}`, 3, c, co);
      c = co;
      return b;
    });
    this.logitsW = this.params.param('logits/w', [3, 3, c, config.numClasses], 'he-normal');
    if (heads.global) {
      const side = heads.global.inputSize / sizeMultiple(config);
      if (!Number.isInteger(side))
        throw new Error(`UNet: input size ${heads.global.inputSize} is not divisible by ${sizeMultiple(config)}`);
      const flat = side * side * lastOf(config.encoder[config.encoder.length - 1]);
      const hidden = heads.global.hidden ?? 1024,
        out = heads.global.out ?? 128;
      this.g1 = {
        w1: this.params.param('g1/dense1/w', [flat, hidden], 'glorot-uniform'),
        w2: this.params.param('g1/dense2/w', [hidden, out], 'glorot-uniform'),
      };
    }
    if (heads.local) {
      const l = heads.local.block;
      if (l < 1 || l > config.decoder.length)
        throw new Error(`UNet: decoder block ${l} does not exist (1..${config.decoder.length})`);
      const cl = lastOf(config.decoder[l - 1].convs);
      const size = heads.local.regionSize ?? 3;
      this.g2 = {
        w1: this.params.param('g2/conv1/w', [1, 1, cl, cl], 'he-normal'),
        bn: this.params.batchNorm('g2/conv1/bn', cl),
        w2: this.params.param('g2/conv2/w', [1, 1, cl, cl], 'he-normal'),
        region:
          size === 3
            ? this.params.param('g2/region/w', [9 * cl, heads.local.regionDim ?? 128], 'glorot-uniform')
            : null,
        size,
      };
    }
  }

  /** g1: the global representation z [B, 128] of the encoder output (not normalised). */
  globalHead(tp: Tape<T>, bottleneck: Var<T>): Var<T> {
    if (!this.g1) throw new Error('UNet: built without a global head (heads.global)');
    const s = this.be.shape(bottleneck.value);
    const flat = op.reshape(tp, bottleneck, [s[0], s[1] * s[2] * s[3]]); // row-major (H, W, C), as the paper
    return op.dense(tp, op.relu(tp, op.dense(tp, flat, this.g1.w1)), this.g1.w2);
  }

  /** g2: the local feature map of decoder block l (BN in training mode, as every pre-training stage). */
  localHead(tp: Tape<T>, features: Var<T>, training = true): Var<T> {
    if (!this.g2) throw new Error('UNet: built without a local head (heads.local)');
    const one = sameConv(1);
    const h = op.batchNormRelu(
      tp,
      op.conv2d(tp, features, this.g2.w1, null, one),
      this.g2.bn,
      training,
      this.bnOptions,
    );
    return op.conv2d(tp, h, this.g2.w2, null, one);
  }

  /** Region embeddings [B·P, D] of decoder features at `positions` [P, 2] (top-left corners): g2, window, dense. */
  localEmbeddings(tp: Tape<T>, features: Var<T>, positions: T): Var<T> {
    const g2 = this.g2;
    if (!g2) throw new Error('UNet: built without a local head (heads.local)');
    const r = op.regions(tp, this.localHead(tp, features), positions, g2.size);
    return g2.region ? op.dense(tp, r, g2.region) : r;
  }

  /** The channels of decoder block l's output (the local head's input). */
  decoderChannels(l: number): number {
    return lastOf(this.config.decoder[l - 1].convs);
  }

  /** Freeze (or unfreeze) every parameter whose name passes the test: frozen ones get no gradient and no update. */
  setTrainable(test: (name: string) => boolean, trainable: boolean): void {
    for (const s of this.params.slots) if (test(s.name)) s.v.requiresGrad = trainable;
  }

  private convBlock(name: string, k: number, cin: number, cout: number): ConvBlock<T> {
    return {
      w: this.params.param(`${name}/w`, [k, k, cin, cout], 'he-normal'),
      b: this.params.param(`${name}/b`, [cout], 'zeros'),
      bn: this.params.batchNorm(`${name}/bn`, cout),
      k,
    };
  }

  /** conv → BN → ReLU; `upsampled`: the conv reads x upsampled ×2 (a decoder's up-conv). */
  private block(tp: Tape<T>, x: Var<T>, blk: ConvBlock<T>, training: boolean, upsampled = false): Var<T> {
    if (!training) {
      // inference: nothing to differentiate, and the backend may fuse the block
      const be = tp.be;
      const input = upsampled ? be.upsample2(x.value) : x.value;
      const z = be.conv2dBnReluInfer(
        input,
        blk.w.value,
        blk.b.value,
        op.bnParams(blk.bn),
        sameConv(blk.k),
        this.bnOptions,
      );
      if (upsampled) be.release(input);
      return tp.result(z, []);
    }
    const y = (upsampled ? op.upsampleConv2d : op.conv2d)(tp, x, blk.w, blk.b, sameConv(blk.k));
    return op.batchNormRelu(tp, y, blk.bn, training, this.bnOptions);
  }

  /** Encoder features of every level (the last is the bottleneck, the input of the global head g1). */
  encode(tp: Tape<T>, x: Var<T>, training: boolean): Var<T>[] {
    const levels: Var<T>[] = [];
    let h = x;
    this.encoder.forEach((level, li) => {
      if (li > 0) h = op.maxPool2(tp, h);
      for (const blk of level) h = this.block(tp, h, blk, training);
      levels.push(h);
    });
    return levels;
  }

  /** Decoder blocks 1..count on top of the encoder levels; returns each block's output. */
  decode(tp: Tape<T>, levels: Var<T>[], training: boolean, count = this.decoder.length): Var<T>[] {
    const outs: Var<T>[] = [];
    let h = levels[levels.length - 1];
    for (let bi = 0; bi < count; bi++) {
      const blk = this.decoder[bi];
      const up = this.block(tp, h, blk.up, training, true);
      h = op.concat(tp, up, levels[levels.length - 2 - bi]);
      for (const c of blk.convs) h = this.block(tp, h, c, training);
      outs.push(h);
    }
    return outs;
  }

  /** Full segmentation network: logits [B, H, W, K]. */
  forward(tp: Tape<T>, x: Var<T>, training: boolean): Var<T> {
    const dec = this.decode(tp, this.encode(tp, x, training), training);
    let h = dec[dec.length - 1];
    for (const blk of this.head) h = this.block(tp, h, blk, training);
    return op.conv2d(tp, h, this.logitsW, null, sameConv(3));
  }
}

const lastOf = (a: number[]) => a[a.length - 1];

/**
 * The same network on a split backend: its parameters, Adam moments and moving averages are the model's own
 * tensors (an update through the view is an update of the model). Call `done()` to carry the Adam step count back.
 */
export function splitView(model: UNet<GpuTensor>, sb: SplitBackend): { view: UNet<Split>; done(): void } {
  const view = new UNet(sb, model.config, 0, model.heads);
  view.bnOptions = model.bnOptions;
  view.params.slots.forEach((s, i) => {
    const o = model.params.slots[i];
    for (const t of [s.v.value, s.m, s.s]) sb.release(t);
    s.v.value = Split.whole(o.v.value);
    s.v.requiresGrad = o.v.requiresGrad;
    s.m = Split.whole(o.m);
    s.s = Split.whole(o.s);
  });
  view.params.batchNorms.forEach((b, i) => {
    const o = model.params.batchNorms[i].state;
    sb.release(b.state.movingMean);
    sb.release(b.state.movingVar);
    b.state.movingMean = Split.whole(o.movingMean);
    b.state.movingVar = Split.whole(o.movingVar);
  });
  view.params.step = model.params.step;
  return {
    view,
    done: () => {
      model.params.step = view.params.step;
    },
  };
}
