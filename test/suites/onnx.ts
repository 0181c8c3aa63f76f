// ONNX export (issue 5): an exported UNet run by onnxruntime-web's wasm execution provider gives glocal's own
// inference logits (relative error ≤ 1e-4, ≥ 99.9% of voxels with the same argmax), and the file loads back
// into a UNet bit for bit. The runtime is chosen explicitly: the 'wasm' EP, one thread; in the browser the
// 'webgpu' EP (onnxruntime-web's own WebGPU kernels, not ours) too, asserted at 64² and reported at 32².

import * as ort from 'onnxruntime-web';
import { type TestCase, assert, relErr } from '../harness.ts';
import { UNet, paperUNet } from '../../src/model/unet.ts';
import { Tape, Var } from '../../src/autodiff/tape.ts';
import type { Backend } from '../../src/ops/backend.ts';
import { exportOnnx, loadOnnxWeights, onnxModelInfo, OnnxError } from '../../src/onnx/onnx.ts';
import { Rng } from '../../src/util/random.ts';
import { detectRuntime } from '../../src/runtime/device.ts';

/** A UNet whose BN moving averages and biases are not at their init (so the export of each is exercised). */
function perturbedUNet<T>(be: Backend<T>, K: number, width: number, seed: number): UNet<T> {
  const m = new UNet(be, paperUNet(K, width), seed),
    rng = new Rng(seed + 100);
  for (const s of m.params.slots) {
    if (!s.name.endsWith('/b') && !s.name.endsWith('/beta')) continue;
    const n = be.shape(s.v.value)[0];
    be.assign(
      s.v.value,
      Float32Array.from({ length: n }, () => rng.uniform(-0.2, 0.2)),
    );
  }
  for (const b of m.params.batchNorms) {
    const n = be.shape(b.state.movingMean)[0];
    be.assign(
      b.state.movingMean,
      Float32Array.from({ length: n }, () => rng.uniform(-0.3, 0.3)),
    );
    be.assign(
      b.state.movingVar,
      Float32Array.from({ length: n }, () => rng.uniform(0.3, 2)),
    );
  }
  return m;
}

async function logits<T>(m: UNet<T>, x: Float32Array, B: number, S: number): Promise<Float32Array> {
  const be = m.be,
    tp = new Tape(be),
    input = be.fromHost(x, [B, S, S, 1]);
  const y = Float32Array.from(await be.toHost(m.forward(tp, new Var(input, false), false).value));
  tp.dispose();
  be.release(input);
  return y;
}

/** NCHW → NHWC */
function toNhwc(a: Float32Array, B: number, K: number, S: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let p = 0; p < S * S; p++) out[(b * S * S + p) * K + k] = a[(b * K + k) * S * S + p];
  return out;
}

function argmaxAgreement(a: Float32Array, b: Float32Array, K: number): number {
  let same = 0;
  for (let p = 0; p < a.length / K; p++) {
    let ia = 0,
      ib = 0;
    for (let k = 1; k < K; k++) {
      if (a[p * K + k] > a[p * K + ia]) ia = k;
      if (b[p * K + k] > b[p * K + ib]) ib = k;
    }
    same += ia === ib ? 1 : 0;
  }
  return same / (a.length / K);
}

const onnxRuntimeCase: TestCase = {
  name: 'ONNX export: onnxruntime-web (wasm EP; webgpu EP in browsers) matches glocal inference; the file loads back bit for bit (2 shapes)',
  async run(env) {
    ort.env.wasm.numThreads = 1;
    for (const [K, width, B, S] of [
      [4, 0.1, 2, 32],
      [3, 0.15, 1, 64],
    ]) {
      const model = perturbedUNet(env.gpu, K, width, 5 + S);
      const rng = new Rng(S),
        x = Float32Array.from({ length: B * S * S }, () => rng.uniform(0, 1.2));
      const want = await logits(model, x, B, S);
      const bytes = await exportOnnx(model);
      assert(
        onnxModelInfo(bytes, 'export').config.numClasses === K,
        'the exported metadata names the wrong class count',
      );
      const eps = detectRuntime() === 'browser' ? ['wasm', 'webgpu'] : ['wasm'];
      for (const ep of eps) {
        const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep] });
        const out = await session.run({ image: new ort.Tensor('float32', x, [B, 1, S, S]) });
        assert(out.logits.dims.join() === [B, K, S, S].join(), `${ep}: ONNX logits have shape [${out.logits.dims}]`);
        const got = toNhwc((await out.logits.getData()) as Float32Array, B, K, S);
        await session.release();
        const err = relErr(got, want),
          agree = argmaxAgreement(got, want, K);
        env.report[`onnx ${ep} ${S}px`] = { relErr: err, argmaxAgreement: agree };
        if (ep === 'webgpu' && S === 32) {
          // reported, not asserted: at 32² (a 1×1 bottleneck) this EP was 9% off both glocal and its own wasm EP
          // on SwiftShader (measured 2026-11-26), while at 64² it agrees to 1e-6: an onnxruntime-web webgpu matter
          console.log(
            `# onnxruntime-web webgpu EP, ${S}²: relative error ${err.toExponential(2)}, argmax agreement ${(100 * agree).toFixed(2)}%`,
          );
          continue;
        }
        assert(
          err <= 1e-4,
          `${ep} EP, K=${K} ${S}²: ONNX logits differ from glocal's by ${err.toExponential(2)} (relative)`,
        );
        assert(
          agree >= 0.999,
          `${ep} EP, K=${K} ${S}²: only ${(100 * agree).toFixed(2)}% of voxels have the same argmax`,
        );
      }
      // load back into a UNet with other weights: the same logits, bit for bit
      const back = new UNet(env.gpu, paperUNet(K, width), 999);
      loadOnnxWeights(back, bytes, 'export');
      const again = await logits(back, x, B, S);
      assert(
        again.every((v, i) => Object.is(v, want[i])),
        `K=${K} ${S}²: the reloaded model's logits differ`,
      );
    }
  },
};

const onnxErrorsCase: TestCase = {
  name: 'ONNX import: a non-ONNX file and a model of another configuration are refused with the file name',
  async run(env) {
    const small = new UNet(env.gpu, paperUNet(4, 0.1), 1),
      other = new UNet(env.gpu, paperUNet(3, 0.1), 1);
    const bytes = await exportOnnx(small);
    const refused = (f: () => void, what: RegExp) => {
      try {
        f();
      } catch (e) {
        assert(
          e instanceof OnnxError && /model\.onnx/.test(e.message) && what.test(e.message),
          `unexpected error: ${(e as Error).message}`,
        );
        return;
      }
      throw new Error('accepted a bad ONNX file');
    };
    refused(() => loadOnnxWeights(other, bytes, 'model.onnx'), /logits\/w.*shape/);
    refused(
      () => loadOnnxWeights(small, new TextEncoder().encode('not a model at all'), 'model.onnx'),
      /not an ONNX model|missing initializer/,
    );
  },
};

export const onnxCases: TestCase[] = [onnxRuntimeCase, onnxErrorsCase];
