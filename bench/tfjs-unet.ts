// The paper's UNet written with tfjs-core ops (NHWC, the same layers and channel counts as
// src/model/unet.ts), for the model benchmark's side-by-side train step and inference on tfjs-backend-webgpu.

import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type * as TF from '@tensorflow/tfjs-core';
import type { UNetConfig } from '../src/model/unet.ts';
import type { Tf } from './tfjs.ts';

interface Block {
  w: TF.Variable;
  b: TF.Variable;
  gamma: TF.Variable;
  beta: TF.Variable;
  mean: TF.Tensor;
  vari: TF.Tensor;
  k: number;
}

export class TfjsUNet {
  private enc: Block[][] = [];
  private dec: { up: Block; convs: Block[] }[] = [];
  private head: Block[] = [];
  private logitsW: TF.Variable;
  private opt: TF.Optimizer;

  constructor(
    private tf: Tf,
    cfg: UNetConfig,
  ) {
    let c = cfg.inChannels;
    const block = (k: number, cin: number, cout: number): Block => ({
      w: tf.variable(tf.randomNormal([k, k, cin, cout], 0, Math.sqrt(2 / (k * k * cin)))),
      b: tf.variable(tf.zeros([cout])),
      gamma: tf.variable(tf.ones([cout])),
      beta: tf.variable(tf.zeros([cout])),
      mean: tf.zeros([cout]),
      vari: tf.ones([cout]),
      k,
    });
    for (const level of cfg.encoder)
      this.enc.push(
        level.map((co) => {
          const b = block(3, c, co);
          c = co;
          return b;
        }),
      );
    cfg.decoder.forEach((d, i) => {
      const skip = cfg.encoder[cfg.encoder.length - 2 - i];
      const up = block(2, c, d.up);
      c = d.up + skip[skip.length - 1];
      this.dec.push({
        up,
        convs: d.convs.map((co) => {
          const b = block(3, c, co);
          c = co;
          return b;
        }),
      });
    });
    this.head = cfg.head.map((co) => {
      const b = block(3, c, co);
      c = co;
      return b;
    });
    this.logitsW = tf.variable(tf.randomNormal([3, 3, c, cfg.numClasses], 0, Math.sqrt(2 / (9 * c))));
    this.opt = tf.train.adam(1e-3);
  }

  /** conv (TF SAME: 2×2 pads 0 before, 1 after, as tfjs's 'same') → BN → ReLU. */
  private block(x: TF.Tensor4D, b: Block, training: boolean): TF.Tensor4D {
    const tf = this.tf;
    const y = tf.add(tf.conv2d(x, b.w as TF.Tensor4D, 1, 'same'), b.b) as TF.Tensor4D;
    let n: TF.Tensor4D;
    if (training) {
      const m = tf.moments(y, [0, 1, 2]);
      n = tf.batchNorm(y, m.mean, m.variance, b.beta, b.gamma, 1e-3) as TF.Tensor4D;
    } else {
      n = tf.batchNorm(y, b.mean, b.vari, b.beta, b.gamma, 1e-3) as TF.Tensor4D;
    }
    return tf.relu(n);
  }

  forward(x: TF.Tensor4D, training: boolean): TF.Tensor4D {
    const tf = this.tf,
      levels: TF.Tensor4D[] = [];
    let h = x;
    this.enc.forEach((level, i) => {
      if (i) h = tf.maxPool(h, 2, 2, 'valid');
      for (const b of level) h = this.block(h, b, training);
      levels.push(h);
    });
    this.dec.forEach((d, i) => {
      const [, H, W] = h.shape;
      h = this.block(tf.image.resizeNearestNeighbor(h, [2 * H, 2 * W]), d.up, training);
      h = tf.concat([h, levels[levels.length - 2 - i]], 3);
      for (const b of d.convs) h = this.block(h, b, training);
    });
    for (const b of this.head) h = this.block(h, b, training);
    return tf.conv2d(h, this.logitsW as TF.Tensor4D, 1, 'same');
  }

  /** Soft Dice (background included) + Adam; returns the loss read on the host. */
  async trainStep(x: TF.Tensor4D, onehot: TF.Tensor4D): Promise<number> {
    const tf = this.tf;
    const loss = this.opt.minimize(() => {
      const p = tf.softmax(this.forward(x, true));
      const inter = tf.sum(tf.mul(p, onehot), [1, 2]);
      const denom = tf.add(tf.add(tf.sum(p, [1, 2]), tf.sum(onehot, [1, 2])), 1e-10);
      return tf.sub(1, tf.mean(tf.div(tf.mul(2, inter), denom))) as TF.Scalar;
    }, true)!;
    const v = (await loss.data())[0];
    loss.dispose();
    return v;
  }

  /** Label map on the host: upload, forward (BN inference), argmax, read back. */
  async predictLabels(host: Float32Array, shape: [number, number, number, number]): Promise<Int32Array> {
    const tf = this.tf;
    const labels = tf.tidy(() => tf.argMax(this.forward(tf.tensor4d(host, shape), false), 3));
    const out = (await labels.data()) as Int32Array;
    labels.dispose();
    return out;
  }
}
