// A PNG of one network slice: the image, the prediction overlaid, and the ground truth overlaid, side by side.
import { encode } from 'fast-png';
import type { PreparedVolume } from './pipeline.ts';
// the classes' colours shared with the app, the viewer adapters and the DICOM SEG
import { LABEL_COLOURS as COLOURS } from '../viewers/colours.ts';

export function overlayPng(v: PreparedVolume, probs: Float32Array, K: number, z = Math.floor(v.nz / 2)): Uint8Array {
  const S = v.geometry.network[0],
    P = S * S,
    panels = v.labels ? 3 : 2,
    W = S * panels;
  const rgb = new Uint8Array(W * S * 3);
  const img = v.slices.subarray(z * P, (z + 1) * P);
  const pred = new Uint8Array(P);
  for (let p = 0; p < P; p++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (probs[(z * P + p) * K + k] > probs[(z * P + p) * K + best]) best = k;
    pred[p] = best;
  }
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const p = x + S * y,
        g = Math.max(0, Math.min(255, Math.round(img[p] * 255)));
      for (let panel = 0; panel < panels; panel++) {
        const lab = panel === 1 ? pred[p] : panel === 2 ? v.labels![z * P + p] : 0;
        const c = COLOURS[lab % COLOURS.length],
          o = (y * W + panel * S + x) * 3;
        for (let ch = 0; ch < 3; ch++) rgb[o + ch] = lab ? Math.round(0.55 * g + 0.45 * c[ch]) : g;
      }
    }
  return encode({ width: W, height: S, data: rgb, channels: 3, depth: 8 });
}
