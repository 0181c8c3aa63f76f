// A user's Deno script (issue 27 item 12): a Session on WebGPU trains a few steps on two synthetic volumes, segments
// one, disposes, and must exit 0. scripts/repro/deno-exit.mjs runs it 20 times in a row.
//   npx deno run --allow-read --allow-env scripts/repro/deno-exit.ts   (after npm run build)
import { Session, writeNifti } from '../../dist/index.js';

/** A 32×32×6 volume: a bright disk (label 1) on a dim ramp, 2 mm slices. */
function volume(name: string, shift: number) {
  const [nx, ny, nz] = [32, 32, 6], image = new Float32Array(nx * ny * nz), label = new Float32Array(image.length);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = x + nx * (y + ny * z), inside = (x - 16 - shift) ** 2 + (y - 15) ** 2 < 49;
        image[i] = (inside ? 200 : 40) + x + 3 * z;
        label[i] = inside ? 1 : 0;
      }
    }
  }
  const geometry = { dims: [nx, ny, nz] as [number, number, number], spacing: [1, 1, 2] as [number, number, number],
    affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1], source: name };
  return { name, image: writeNifti({ ...geometry, data: image }), label: writeNifti({ ...geometry, data: label }) };
}

const session = await Session.create({
  backend: 'webgpu', size: 32, targetSpacing: 1, width: 0.05, classes: ['background', 'disk'],
});
const run = await session.finetune([volume('a', 0), volume('b', 3)], { iterations: 4, batch: 2, valEvery: 100 });
const { labels } = await session.segment({ name: 'c', image: volume('c', -2).image });
console.log(`${session.adapter()}: ${run.iteration} steps, a ${labels.byteLength}-byte label map`);
session.dispose();
