// A seeded batch of simple synthetic images (bright discs = class 1, dark squares = class 2, noisy
// background) with one-hot labels: the demo's data until the phantom MRI generator lands.
import { Rng } from '../util/random.ts';

export function syntheticBatch(B: number, S: number, K: number, seed: number): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(B * S * S),
    y = new Float32Array(B * S * S * K);
  for (let b = 0; b < B; b++) {
    const r = S * rng.uniform(0.12, 0.22),
      cx = S * rng.uniform(0.25, 0.45),
      cy = S * rng.uniform(0.25, 0.75);
    const q = Math.floor(S * rng.uniform(0.15, 0.25)),
      qx = Math.floor(S * rng.uniform(0.55, 0.7)),
      qy = Math.floor(S * rng.uniform(0.2, 0.6));
    for (let i = 0; i < S; i++)
      for (let j = 0; j < S; j++) {
        const p = (b * S + i) * S + j;
        let cls = 0;
        if ((i - cy) ** 2 + (j - cx) ** 2 < r * r) cls = 1;
        else if (K > 2 && i >= qy && i < qy + q && j >= qx && j < qx + q) cls = 2;
        x[p] = [0.3, 0.9, 0.05][cls] + 0.1 * rng.normal();
        y[p * K + cls] = 1;
      }
  }
  return { x, y };
}
