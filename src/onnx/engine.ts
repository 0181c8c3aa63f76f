// Inference through onnxruntime-web on an ONNX file exported by glocal: an engine the user chooses explicitly
// (`glocal segment --engine ort-wasm`), never a silent fallback. Its output matches predictVolume's: softmax
// probabilities per slice, channel-last.

import * as ort from 'onnxruntime-web';
import type { PreparedVolume } from '../data/pipeline.ts';

export type OnnxEp = 'wasm' | 'webgpu';

/** An inference session on ONNX bytes with exactly one execution provider. */
export async function onnxSession(bytes: Uint8Array, ep: OnnxEp = 'wasm'): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { executionProviders: [ep] });
}

/** Softmax probabilities nz·S·S·K of every slice of a prepared volume, `batch` slices per run. */
export async function predictVolumeOnnx(
  session: ort.InferenceSession,
  p: PreparedVolume,
  K: number,
  batch = 8,
): Promise<Float32Array> {
  const S = p.geometry.network[0],
    P = S * S,
    out = new Float32Array(p.nz * P * K);
  for (let z0 = 0; z0 < p.nz; z0 += batch) {
    const n = Math.min(batch, p.nz - z0);
    const x = new ort.Tensor('float32', p.slices.slice(z0 * P, (z0 + n) * P), [n, 1, S, S]);
    const logits = (await session.run({ image: x })).logits.data as Float32Array; // [n, K, S, S]
    for (let b = 0; b < n; b++)
      for (let q = 0; q < P; q++) {
        let max = -Infinity;
        for (let k = 0; k < K; k++) max = Math.max(max, logits[(b * K + k) * P + q]);
        let sum = 0;
        const o = ((z0 + b) * P + q) * K;
        for (let k = 0; k < K; k++) sum += out[o + k] = Math.exp(logits[(b * K + k) * P + q] - max);
        for (let k = 0; k < K; k++) out[o + k] /= sum;
      }
  }
  return out;
}
