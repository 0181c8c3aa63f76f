// The volume pipeline end to end without a network: a phantom volume (oblique affine) is prepared for the
// network; its own prepared labels, as one-hot "probabilities", must map back onto the file's grid with
// the same dims and affine and agree with the original labels (Dice), through every orientation change.
import { type TestCase, assert } from '../harness.ts';
import { generateSubject } from '../../src/data/phantom.ts';
import { prepareVolume, labelsFromProbabilities, moveAxisLast, restoreAxis } from '../../src/data/pipeline.ts';
import { dicePerClass, meanForegroundDice } from '../../src/data/metrics.ts';
import type { Volume } from '../../src/volume/volume.ts';

export const pipelineCases: TestCase[] = [
  {
    name: 'pipeline: axis moves are exact inverses',
    async run() {
      const dims: [number, number, number] = [3, 4, 5];
      const data = Float32Array.from({ length: 60 }, (_, i) => i);
      for (const axis of [0, 1, 2] as const) {
        const m = moveAxisLast(data, dims, axis);
        assert(m.dims[2] === dims[axis], `axis ${axis} is last`);
        const back = restoreAxis(m.data, m.dims, axis);
        assert(
          back.every((v, i) => v === data[i]),
          `axis ${axis}: round trip`,
        );
      }
    },
  },
  {
    name: 'pipeline: prepared labels mapped back land on the original grid and affine (permuted, flipped file)',
    async run() {
      const { image, label } = generateSubject(3, 1);
      // store the volume with axes permuted and flipped, as a scanner might: (i, j, k) -> (k, -i, j)
      const permute = (v: Volume): Volume => {
        const [nx, ny, nz] = v.dims,
          out = new Float32Array(v.data.length);
        for (let k = 0; k < nz; k++)
          for (let j = 0; j < ny; j++)
            for (let i = 0; i < nx; i++) {
              out[k + nz * (nx - 1 - i + nx * j)] = v.data[i + nx * (j + ny * k)];
            }
        const a = v.affine; // new voxel (a, b, c) = old (nx-1-b, c, a)
        const col = (c: number) => [a[c], a[4 + c], a[8 + c]];
        const [ci, cj, ck] = [col(0), col(1), col(2)];
        const t = [0, 1, 2].map((r) => a[4 * r + 3] + (nx - 1) * ci[r]);
        const aff = [ck[0], -ci[0], cj[0], t[0], ck[1], -ci[1], cj[1], t[1], ck[2], -ci[2], cj[2], t[2], 0, 0, 0, 1];
        return {
          data: out,
          dims: [nz, nx, ny],
          spacing: [v.spacing[2], v.spacing[0], v.spacing[1]],
          affine: aff,
          source: v.source,
        };
      };
      const img = permute(image),
        lab = permute(label);
      const K = 4,
        S = 160;
      const p = await prepareVolume(img, lab, { targetSpacing: 1.36719, size: S, biasField: true });
      assert(p.nz === image.dims[2], `slices run along the original slice axis (${p.nz} vs ${image.dims[2]})`);
      const probs = new Float32Array(p.nz * S * S * K);
      p.labels!.forEach((l, i) => (probs[i * K + l] = 1));
      const { volume } = await labelsFromProbabilities(p, probs, K);
      assert(volume.dims.join() === img.dims.join(), `dims ${volume.dims} vs ${img.dims}`);
      assert(
        volume.affine.every((v, i) => v === img.affine[i]),
        'affine kept',
      );
      const d = await dicePerClass(volume.data, lab.data, K);
      const m = meanForegroundDice(d);
      assert(
        m > 0.85,
        `round trip through resampling and back: mean foreground Dice ${m.toFixed(3)} (${Array.from(d).map((x) => x.toFixed(3))})`,
      );
    },
  },
];
