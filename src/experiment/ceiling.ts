// The grid's ceiling: each test volume's ground truth passed through preprocessing (nearest resampling onto the
// network grid, centre crop/pad) and back by the inverse the predictions take (one-hot "probabilities" → uncrop →
// bilinear resize → argmax), scored at native resolution. No network can beat it on that grid: what the crop cuts
// off and what the resampling blurs is lost to every method alike.

import { nativeLabels, type PreparedVolume } from '../data/pipeline.ts';
import type { VolumeScore } from '../train/finetune.ts';
import { dicePerClass, hd95PerClass, meanForegroundDice } from '../data/metrics.ts';

/** The row name of the ceiling in experiment tables and CSVs. */
export const CEILING = 'ceiling (ground truth through the grid)';

/** A grid whose ceiling is below this for any class is not used for a claim (issue 24). */
export const CLAIM_CEILING = 0.95;

/** The network-grid labels of a volume as one-hot probabilities, nz·S·S·K channel-last. */
export function oneHot(labels: Float32Array, K: number): Float32Array {
  const out = new Float32Array(labels.length * K);
  for (let i = 0; i < labels.length; i++) out[i * K + labels[i]] = 1;
  return out;
}

export async function ceilingScores(vols: PreparedVolume[], K: number): Promise<VolumeScore[]> {
  const scores: VolumeScore[] = [];
  for (const v of vols) {
    if (!v.labels || !v.nativeLabels) throw new Error(`${v.name}: the ceiling needs the volume's labels`);
    const back = await nativeLabels(v, oneHot(v.labels, K), K);
    const dice = Array.from(await dicePerClass(back, v.nativeLabels, K));
    const dims: [number, number, number] = [v.geometry.native[0], v.geometry.native[1], v.nz];
    const hd95 = Array.from(await hd95PerClass(back, v.nativeLabels, dims, v.workingSpacing, K));
    scores.push({ name: v.name, dice, meanForeground: meanForegroundDice(dice), hd95 });
  }
  return scores;
}
