// The float64 CPU reference of every primitive op: plain loops, written for clarity, checked against
// PyTorch golden vectors (test/golden/) and used to check the WGSL kernels and whole-network gradients.

import { UNARY, type UnaryAttrValues, type UnaryName } from './table.ts';
import { adamStepSize, matmulSizes } from './backend.ts';
import type { AdamOptions, AdamSet, Backend, BatchNormOptions, BatchNormParams, ConvSpec, Shape } from './backend.ts';

export class RefTensor {
  constructor(
    readonly shape: Shape,
    readonly data: Float64Array,
  ) {}
  get size(): number {
    return this.data.length;
  }
}

const numel = (s: Shape) => s.reduce((a, b) => a * b, 1);
const last = (s: Shape) => s[s.length - 1];

/**
 * The loop nest of a stride-1 convolution over NHWC images of `shape` ([B, H, W, ·]): for each output pixel p
 * (flat index over B·H·W), `pixel(p)` first, then `tap(p, ip, k)` for each kernel tap k = dy·kw + dx whose input
 * pixel ip lies inside the image (zero padding), in this order. The three convolutions accumulate in it, so
 * their sums add in one fixed order.
 */
function forEachTap(
  shape: Shape,
  s: ConvSpec,
  visit: { pixel?: (p: number) => void; tap: (p: number, ip: number, k: number) => void },
): void {
  const [B, H, W] = shape;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let q = 0; q < W; q++) {
        const p = (b * H + h) * W + q;
        visit.pixel?.(p);
        for (let dy = 0; dy < s.kh; dy++)
          for (let dx = 0; dx < s.kw; dx++) {
            const ih = h + dy - s.padT,
              iw = q + dx - s.padL;
            if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
            visit.tap(p, (b * H + ih) * W + iw, dy * s.kw + dx);
          }
      }
}

export class RefBackend implements Backend<RefTensor> {
  readonly name = 'reference-f64';

  shape(t: RefTensor): Shape {
    return t.shape;
  }
  fromHost(data: ArrayLike<number>, shape: Shape): RefTensor {
    if (data.length !== numel(shape)) throw new Error(`fromHost: ${data.length} values for [${shape}]`);
    return new RefTensor(shape, Float64Array.from(data));
  }
  async toHost(t: RefTensor): Promise<Float64Array> {
    return t.data.slice();
  }
  async toHostAll(ts: RefTensor[]): Promise<Float64Array[]> {
    return ts.map((t) => t.data.slice());
  }
  assign(t: RefTensor, data: ArrayLike<number>): void {
    if (data.length !== t.size) throw new Error(`assign: ${data.length} values for [${t.shape}]`);
    t.data.set(data);
  }
  zeros(shape: Shape): RefTensor {
    return new RefTensor(shape, new Float64Array(numel(shape)));
  }
  full(shape: Shape, value: number): RefTensor {
    return new RefTensor(shape, new Float64Array(numel(shape)).fill(value));
  }
  reshape(t: RefTensor, shape: Shape): RefTensor {
    if (numel(shape) !== t.size) throw new Error(`reshape: [${t.shape}] -> [${shape}]`);
    return new RefTensor(shape, t.data);
  }
  release(): void {}

  conv2d(x: RefTensor, w: RefTensor, bias: RefTensor | null, s: ConvSpec): RefTensor {
    const Ci = x.shape[3],
      Co = w.shape[3];
    const y = this.zeros([...x.shape.slice(0, 3), Co]);
    forEachTap(x.shape, s, {
      pixel: (p) => {
        for (let o = 0; o < Co; o++) y.data[p * Co + o] = bias ? bias.data[o] : 0;
      },
      tap: (p, ip, k) => {
        for (let c = 0; c < Ci; c++) {
          const xv = x.data[ip * Ci + c],
            wo = (k * Ci + c) * Co;
          for (let o = 0; o < Co; o++) y.data[p * Co + o] += xv * w.data[wo + o];
        }
      },
    });
    return y;
  }

  conv2dInputGrad(g: RefTensor, w: RefTensor, s: ConvSpec): RefTensor {
    const Co = g.shape[3],
      Ci = w.shape[2];
    const dx = this.zeros([...g.shape.slice(0, 3), Ci]);
    forEachTap(g.shape, s, {
      tap: (p, ip, k) => {
        for (let c = 0; c < Ci; c++) {
          const wo = (k * Ci + c) * Co;
          let acc = 0;
          for (let o = 0; o < Co; o++) acc += g.data[p * Co + o] * w.data[wo + o];
          dx.data[ip * Ci + c] += acc;
        }
      },
    });
    return dx;
  }

  conv2dWeightGrad(x: RefTensor, g: RefTensor, s: ConvSpec): RefTensor {
    const Ci = x.shape[3],
      Co = g.shape[3];
    const dw = this.zeros([s.kh, s.kw, Ci, Co]);
    forEachTap(x.shape, s, {
      tap: (p, ip, k) => {
        for (let c = 0; c < Ci; c++) {
          const xv = x.data[ip * Ci + c],
            wo = (k * Ci + c) * Co;
          for (let o = 0; o < Co; o++) dw.data[wo + o] += xv * g.data[p * Co + o];
        }
      },
    });
    return dw;
  }

  channelSum(t: RefTensor): RefTensor {
    const C = last(t.shape),
      out = this.zeros([C]);
    for (let i = 0; i < t.size; i++) out.data[i % C] += t.data[i];
    return out;
  }

  private moments(x: RefTensor): { mean: Float64Array; variance: Float64Array; n: number } {
    const C = last(x.shape),
      n = x.size / C;
    const mean = new Float64Array(C),
      variance = new Float64Array(C);
    for (let i = 0; i < x.size; i++) mean[i % C] += x.data[i];
    for (let c = 0; c < C; c++) mean[c] /= n;
    for (let i = 0; i < x.size; i++) variance[i % C] += (x.data[i] - mean[i % C]) ** 2;
    for (let c = 0; c < C; c++) variance[c] /= n;
    return { mean, variance, n };
  }

  private normalise(
    x: RefTensor,
    mean: Float64Array,
    invstd: Float64Array,
    gamma: RefTensor,
    beta: RefTensor,
  ): RefTensor {
    const C = last(x.shape),
      y = this.zeros(x.shape);
    for (let i = 0; i < x.size; i++) {
      const c = i % C;
      y.data[i] = (x.data[i] - mean[c]) * invstd[c] * gamma.data[c] + beta.data[c];
    }
    return y;
  }

  batchNormTrain(x: RefTensor, bn: BatchNormParams<RefTensor>, o: BatchNormOptions, relu = false) {
    const { gamma, beta, runMean, runVar } = bn;
    const { mean, variance, n } = this.moments(x);
    const invstd = variance.map((v) => 1 / Math.sqrt(v + o.eps));
    for (let c = 0; c < mean.length; c++) {
      runMean.data[c] = o.decay * runMean.data[c] + (1 - o.decay) * mean[c];
      runVar.data[c] = o.decay * runVar.data[c] + ((1 - o.decay) * variance[c] * n) / Math.max(n - 1, 1);
    }
    const y = this.normalise(x, mean, invstd, gamma, beta);
    return {
      y: relu ? this.relu(y) : y,
      mean: new RefTensor([mean.length], mean),
      invstd: new RefTensor([mean.length], invstd),
    };
  }

  batchNormInfer(x: RefTensor, bn: BatchNormParams<RefTensor>, o: BatchNormOptions, relu = false): RefTensor {
    const invstd = bn.runVar.data.map((v) => 1 / Math.sqrt(v + o.eps));
    const y = this.normalise(x, bn.runMean.data, invstd, bn.gamma, bn.beta);
    return relu ? this.relu(y) : y;
  }

  conv2dBnReluInfer(
    x: RefTensor,
    w: RefTensor,
    b: RefTensor | null,
    bn: BatchNormParams<RefTensor>,
    s: ConvSpec,
    o: BatchNormOptions,
  ): RefTensor {
    return this.batchNormInfer(this.conv2d(x, w, b, s), bn, o, true);
  }

  batchNormBackward(
    x: RefTensor,
    dy: RefTensor,
    gamma: RefTensor,
    mean: RefTensor,
    invstd: RefTensor,
    reluOut?: RefTensor,
  ) {
    const C = last(x.shape),
      n = x.size / C;
    const g = reluOut ? this.unaryGrad('relu', reluOut, dy, {}) : dy;
    const dbeta = this.zeros([C]),
      dgamma = this.zeros([C]);
    for (let i = 0; i < x.size; i++) {
      const c = i % C;
      dbeta.data[c] += g.data[i];
      dgamma.data[c] += g.data[i] * (x.data[i] - mean.data[c]) * invstd.data[c];
    }
    const dx = this.zeros(x.shape);
    for (let i = 0; i < x.size; i++) {
      const c = i % C,
        xhat = (x.data[i] - mean.data[c]) * invstd.data[c];
      dx.data[i] = gamma.data[c] * invstd.data[c] * (g.data[i] - dbeta.data[c] / n - (xhat * dgamma.data[c]) / n);
    }
    return { dx, dgamma, dbeta };
  }

  unary<P extends UnaryName>(op: P, x: RefTensor, attrs: UnaryAttrValues<P>): RefTensor {
    const f = UNARY[op].reference as (x: number, a: UnaryAttrValues<P>) => number;
    return new RefTensor(
      x.shape,
      x.data.map((v) => f(v, attrs)),
    );
  }
  unaryGrad<P extends UnaryName>(op: P, y: RefTensor, g: RefTensor, attrs: UnaryAttrValues<P>): RefTensor {
    const f = UNARY[op].referenceGrad as (y: number, dy: number, a: UnaryAttrValues<P>) => number;
    return new RefTensor(
      y.shape,
      g.data.map((v, i) => f(y.data[i], v, attrs)),
    );
  }
  private relu(x: RefTensor): RefTensor {
    return this.unary('relu', x, {});
  }

  maxPool2(x: RefTensor) {
    const [B, H, W, C] = x.shape,
      OH = Math.ceil(H / 2),
      OW = Math.ceil(W / 2);
    const y = this.zeros([B, OH, OW, C]),
      arg = this.zeros([B, OH, OW, C]);
    for (let b = 0; b < B; b++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++)
          for (let c = 0; c < C; c++) {
            let best = -Infinity,
              bi = -1;
            for (let dy = 0; dy < 2; dy++)
              for (let dx = 0; dx < 2; dx++) {
                const ih = 2 * oh + dy,
                  iw = 2 * ow + dx;
                if (ih >= H || iw >= W) continue;
                const j = ((b * H + ih) * W + iw) * C + c;
                if (bi < 0 || x.data[j] > best) {
                  best = x.data[j];
                  bi = j;
                }
              }
            const o = ((b * OH + oh) * OW + ow) * C + c;
            y.data[o] = best;
            arg.data[o] = bi;
          }
    return { y, arg };
  }

  maxPool2Backward(g: RefTensor, arg: RefTensor, inputShape: Shape): RefTensor {
    const dx = this.zeros(inputShape);
    for (let o = 0; o < g.size; o++) dx.data[arg.data[o]] += g.data[o];
    return dx;
  }

  upsample2(x: RefTensor): RefTensor {
    const [B, H, W, C] = x.shape,
      y = this.zeros([B, 2 * H, 2 * W, C]);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < 2 * H; h++)
        for (let q = 0; q < 2 * W; q++)
          for (let c = 0; c < C; c++) {
            y.data[((b * 2 * H + h) * 2 * W + q) * C + c] = x.data[((b * H + (h >> 1)) * W + (q >> 1)) * C + c];
          }
    return y;
  }

  upsample2Backward(g: RefTensor): RefTensor {
    const [B, H2, W2, C] = g.shape,
      dx = this.zeros([B, H2 / 2, W2 / 2, C]);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H2; h++)
        for (let q = 0; q < W2; q++)
          for (let c = 0; c < C; c++) {
            dx.data[((b * (H2 / 2) + (h >> 1)) * (W2 / 2) + (q >> 1)) * C + c] +=
              g.data[((b * H2 + h) * W2 + q) * C + c];
          }
    return dx;
  }

  concat(a: RefTensor, b: RefTensor): RefTensor {
    const ca = last(a.shape),
      cb = last(b.shape),
      P = a.size / ca;
    const out = this.zeros([...a.shape.slice(0, -1), ca + cb]);
    for (let p = 0; p < P; p++) {
      for (let c = 0; c < ca; c++) out.data[p * (ca + cb) + c] = a.data[p * ca + c];
      for (let c = 0; c < cb; c++) out.data[p * (ca + cb) + ca + c] = b.data[p * cb + c];
    }
    return out;
  }

  sliceChannels(t: RefTensor, offset: number, count: number): RefTensor {
    const C = last(t.shape),
      P = t.size / C,
      out = this.zeros([...t.shape.slice(0, -1), count]);
    for (let p = 0; p < P; p++) for (let c = 0; c < count; c++) out.data[p * count + c] = t.data[p * C + offset + c];
    return out;
  }

  matmul(a: RefTensor, b: RefTensor, transA: boolean, transB: boolean): RefTensor {
    const { M, N, K } = matmulSizes(a.shape, b.shape, transA, transB);
    const out = this.zeros([M, N]);
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++)
          s += (transA ? a.data[k * M + m] : a.data[m * K + k]) * (transB ? b.data[n * K + k] : b.data[k * N + n]);
        out.data[m * N + n] = s;
      }
    return out;
  }

  softmax(z: RefTensor): RefTensor {
    const K = last(z.shape),
      p = this.zeros(z.shape);
    for (let r = 0; r < z.size / K; r++) {
      let mx = -Infinity,
        s = 0;
      for (let k = 0; k < K; k++) mx = Math.max(mx, z.data[r * K + k]);
      for (let k = 0; k < K; k++) s += Math.exp(z.data[r * K + k] - mx);
      for (let k = 0; k < K; k++) p.data[r * K + k] = Math.exp(z.data[r * K + k] - mx) / s;
    }
    return p;
  }

  argmax(z: RefTensor): RefTensor {
    const K = last(z.shape),
      out = this.zeros(z.shape.slice(0, -1));
    for (let r = 0; r < out.size; r++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (z.data[r * K + k] > z.data[r * K + best]) best = k;
      out.data[r] = best;
    }
    return out;
  }

  diceLoss(z: RefTensor, y: RefTensor, eps: number) {
    const B = z.shape[0],
      K = last(z.shape),
      HW = z.size / (B * K);
    const probs = this.softmax(z),
      stats = this.zeros([B, K, 2]);
    let acc = 0;
    for (let b = 0; b < B; b++)
      for (let k = 0; k < K; k++) {
        let I = 0,
          P = 0,
          Y = 0;
        for (let r = 0; r < HW; r++) {
          const j = (b * HW + r) * K + k;
          I += probs.data[j] * y.data[j];
          P += probs.data[j];
          Y += y.data[j];
        }
        const S = P + Y + eps;
        stats.data[(b * K + k) * 2] = I;
        stats.data[(b * K + k) * 2 + 1] = S;
        acc += (2 * I) / S;
      }
    return { loss: new RefTensor([1], Float64Array.of(1 - acc / (B * K))), probs, stats };
  }

  diceBackward(probs: RefTensor, y: RefTensor, stats: RefTensor, dloss: RefTensor): RefTensor {
    const B = probs.shape[0],
      K = last(probs.shape),
      rows = probs.size / K,
      HW = rows / B;
    const dz = this.zeros(probs.shape),
      gk = new Float64Array(K);
    for (let r = 0; r < rows; r++) {
      const b = Math.floor(r / HW);
      let s = 0;
      for (let k = 0; k < K; k++) {
        const I = stats.data[(b * K + k) * 2],
          S = stats.data[(b * K + k) * 2 + 1];
        gk[k] = (-2 / (B * K)) * (y.data[r * K + k] / S - I / (S * S)) * dloss.data[0];
        s += probs.data[r * K + k] * gk[k];
      }
      for (let k = 0; k < K; k++) dz.data[r * K + k] = probs.data[r * K + k] * (gk[k] - s);
    }
    return dz;
  }

  crossEntropy(z: RefTensor, y: RefTensor, w: RefTensor) {
    const K = last(z.shape),
      rows = z.size / K,
      probs = this.softmax(z);
    let s = 0;
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < K; k++) s -= w.data[k] * y.data[r * K + k] * Math.log(probs.data[r * K + k]);
    return { loss: new RefTensor([1], Float64Array.of(s / rows)), probs };
  }

  crossEntropyBackward(probs: RefTensor, y: RefTensor, w: RefTensor, dloss: RefTensor): RefTensor {
    const K = last(probs.shape),
      rows = probs.size / K,
      dz = this.zeros(probs.shape);
    for (let r = 0; r < rows; r++) {
      let sw = 0;
      for (let k = 0; k < K; k++) sw += w.data[k] * y.data[r * K + k];
      for (let k = 0; k < K; k++) {
        dz.data[r * K + k] = (dloss.data[0] / rows) * (probs.data[r * K + k] * sw - w.data[k] * y.data[r * K + k]);
      }
    }
    return dz;
  }

  l2normalize(x: RefTensor) {
    const [rows, D] = x.shape,
      y = this.zeros(x.shape),
      norms = this.zeros([rows, 2]);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += x.data[r * D + d] ** 2;
      const inv = 1 / Math.sqrt(Math.max(s, 1e-12));
      for (let d = 0; d < D; d++) y.data[r * D + d] = x.data[r * D + d] * inv;
      norms.data[2 * r] = inv;
      norms.data[2 * r + 1] = s;
    }
    return { y, norms };
  }

  l2normalizeBackward(y: RefTensor, norms: RefTensor, g: RefTensor): RefTensor {
    const [rows, D] = y.shape,
      dx = this.zeros(y.shape);
    for (let r = 0; r < rows; r++) {
      const inv = norms.data[2 * r];
      let dot = 0;
      if (norms.data[2 * r + 1] > 1e-12) for (let d = 0; d < D; d++) dot += y.data[r * D + d] * g.data[r * D + d];
      for (let d = 0; d < D; d++) dx.data[r * D + d] = inv * (g.data[r * D + d] - y.data[r * D + d] * dot);
    }
    return dx;
  }

  contrastiveLoss(s: RefTensor, pairs: RefTensor, mask: RefTensor, invTau: number, scale: number) {
    const N = s.shape[0],
      T = pairs.shape[0],
      lse = this.zeros([T]),
      loss = this.zeros([1]);
    for (let t = 0; t < T; t++) {
      const a = pairs.data[2 * t],
        p = pairs.data[2 * t + 1];
      const members = [p];
      for (let n = 0; n < N; n++) if (mask.data[t * N + n] !== 0) members.push(n);
      const v = members.map((j) => s.data[a * N + j] * invTau),
        m = Math.max(...v);
      lse.data[t] = m + Math.log(v.reduce((acc, x) => acc + Math.exp(x - m), 0));
      loss.data[0] += scale * (lse.data[t] - v[0]);
    }
    return { loss, lse };
  }

  contrastiveBackward(
    s: RefTensor,
    pairs: RefTensor,
    mask: RefTensor,
    lse: RefTensor,
    _rows: RefTensor,
    dloss: RefTensor,
    invTau: number,
    scale: number,
  ): RefTensor {
    const N = s.shape[0],
      T = pairs.shape[0],
      ds = this.zeros([N, N]),
      g = dloss.data[0] * scale * invTau;
    for (let t = 0; t < T; t++) {
      const a = pairs.data[2 * t],
        p = pairs.data[2 * t + 1];
      for (let j = 0; j < N; j++) {
        if (j === p || mask.data[t * N + j] !== 0)
          ds.data[a * N + j] += g * Math.exp(s.data[a * N + j] * invTau - lse.data[t]);
      }
      ds.data[a * N + p] -= g;
    }
    return ds;
  }

  mseLoss(y: RefTensor, t: RefTensor): RefTensor {
    const out = this.zeros([1]);
    for (let i = 0; i < y.size; i++) out.data[0] += (y.data[i] - t.data[i]) ** 2 / y.size;
    return out;
  }

  mseBackward(y: RefTensor, t: RefTensor, dloss: RefTensor): RefTensor {
    const dy = this.zeros(y.shape);
    for (let i = 0; i < y.size; i++) dy.data[i] = (2 * (y.data[i] - t.data[i]) * dloss.data[0]) / y.size;
    return dy;
  }

  /** Each element of the R×R regions at `positions` (top-left corners): its index in x [B, H, W, C] and in the regions [B·P, R·R·C]. */
  private regionIndices(xShape: Shape, positions: RefTensor, R: number, f: (xi: number, ri: number) => void): void {
    const [B, H, W, C] = xShape,
      P = positions.shape[0];
    for (let b = 0; b < B; b++)
      for (let p = 0; p < P; p++)
        for (let dy = 0; dy < R; dy++)
          for (let dx = 0; dx < R; dx++) {
            const y = positions.data[2 * p] + dy,
              xx = positions.data[2 * p + 1] + dx;
            for (let c = 0; c < C; c++) f(((b * H + y) * W + xx) * C + c, (((b * P + p) * R + dy) * R + dx) * C + c);
          }
  }

  regionGather(x: RefTensor, positions: RefTensor, R: number): RefTensor {
    const out = this.zeros([x.shape[0] * positions.shape[0], R * R * last(x.shape)]);
    this.regionIndices(x.shape, positions, R, (xi, ri) => {
      out.data[ri] = x.data[xi];
    });
    return out;
  }

  regionScatter(dout: RefTensor, positions: RefTensor, R: number, xShape: Shape): RefTensor {
    const dx = this.zeros(xShape);
    this.regionIndices(xShape, positions, R, (xi, ri) => {
      dx.data[xi] += dout.data[ri];
    });
    return dx;
  }

  accumulate(acc: RefTensor, g: RefTensor): void {
    for (let i = 0; i < acc.size; i++) acc.data[i] += g.data[i];
  }

  adam(sets: AdamSet<RefTensor>[], t: number, o: AdamOptions): void {
    const lrT = adamStepSize(o, t);
    for (const { p, g, m, v } of sets) {
      for (let i = 0; i < p.size; i++) {
        m.data[i] = o.beta1 * m.data[i] + (1 - o.beta1) * g.data[i];
        v.data[i] = o.beta2 * v.data[i] + (1 - o.beta2) * g.data[i] ** 2;
        p.data[i] -= (lrT * m.data[i]) / (Math.sqrt(v.data[i]) + o.eps);
      }
    }
  }
}
