// A consumer's page, bundled by scripts/package/bundle.mjs with esbuild from a folder where only the packed tarball
// is installed: the trainer worker loads from the bundle's folder, trains and segments (tiny sizes, wasm backend).
import { createTrainer, phantomVolume, readNifti } from '@glocal-seg/glocal';

async function main() {
  const grid = { size: 32, targetSpacing: 8, width: 0.05 };
  const trainer = await createTrainer({ worker: true, backend: 'wasm', threads: 1, ...grid });
  try {
    const labeled = [phantomVolume(0), phantomVolume(1)];
    const run = await trainer.finetune(labeled, { iterations: 4, batch: 2, valEvery: 1000 });
    const input = phantomVolume(2, { labeled: false });
    const inputDims = readNifti(input.image, input.name).dims; // before segment() takes the bytes over
    const map = readNifti((await trainer.segment(input)).labels, 'label map');
    const maxLabel = map.data.reduce((a, b) => Math.max(a, b), 0);
    return { adapter: await trainer.adapter(), iteration: run.iteration, inputDims, dims: map.dims, maxLabel };
  } finally {
    await trainer.dispose();
  }
}
const report = (result) => {
  globalThis.__pageResult = result;
};
main().then(report, (e) => report({ error: String(e?.stack ?? e) }));
