// The 2D UNet of Chaitanya et al. 2020 (paper-spec §2), written once, forward only, for any backend.
// Conv block = conv (bias, zero-init) → batch norm → ReLU. Decoder block = nearest ×2 upsample → 2×2 conv
// block (TF SAME: pad 0 before, 1 after) → concat [upsampled, skip] → 3×3 conv blocks. Head: 3×3 conv
// blocks, then a 3×3 conv to K logits with no bias, no BN, no activation.

import { type BatchNormOptions, BN_DEFAULTS, type Backend, sameConv } from '../ops/backend.ts';
import { Tape, Var } from '../autodiff/tape.ts';
import * as op from '../autodiff/ops.ts';
import { ParamSet } from '../nn/params.ts';
import { Rng } from '../util/random.ts';

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

/** The paper's network (§2.2–2.4). */
export function paperUNet(numClasses = 4): UNetConfig {
  return {
    inChannels: 1,
    numClasses,
    encoder: [[16, 16], [32, 32], [64, 64], [128, 128], [128, 128], [128, 128]],
    decoder: [
      { up: 128, convs: [128, 128] },
      { up: 128, convs: [128, 128] },
      { up: 64, convs: [64, 64] },
      { up: 32, convs: [32, 32] },
      { up: 16, convs: [16] },
    ],
    head: [16, 16],
  };
}

/** A 2-level UNet with every kind of layer of the paper's (tests: whole-network gradients, training). */
export function tinyUNet(numClasses = 3): UNetConfig {
  return {
    inChannels: 1,
    numClasses,
    encoder: [[8, 8], [16, 16]],
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
  bnOptions: BatchNormOptions = BN_DEFAULTS;

  constructor(readonly be: Backend<T>, readonly config: UNetConfig, seed: number) {
    if (config.decoder.length > config.encoder.length - 1) {
      throw new Error(`UNet: ${config.decoder.length} decoder blocks need at least ${config.decoder.length + 1} encoder levels`);
    }
    this.params = new ParamSet(be, new Rng(seed));
    let c = config.inChannels;
    config.encoder.forEach((level, li) => {
      this.encoder.push(level.map((co, j) => {
        const blk = this.convBlock(`enc${li + 1}_${j + 1}`, 3, c, co);
        c = co;
        return blk;
      }));
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
  }

  private convBlock(name: string, k: number, cin: number, cout: number): ConvBlock<T> {
    return {
      w: this.params.param(`${name}/w`, [k, k, cin, cout], 'he-normal'),
      b: this.params.param(`${name}/b`, [cout], 'zeros'),
      bn: this.params.batchNorm(`${name}/bn`, cout),
      k,
    };
  }

  /** conv → BN → ReLU; the unit a fused kernel will replace. */
  private block(tp: Tape<T>, x: Var<T>, blk: ConvBlock<T>, training: boolean): Var<T> {
    const y = op.conv2d(tp, x, blk.w, blk.b, sameConv(blk.k));
    return op.relu(tp, op.batchNorm(tp, y, blk.bn, training, this.bnOptions));
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
      const up = this.block(tp, op.upsample2(tp, h), blk.up, training);
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
