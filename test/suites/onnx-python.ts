// ONNX for outside users (issue 28, item 9). The exported file names its producer and glocal's version and holds
// the whole preprocessing recipe (metadata 'glocal.preprocessing'). docs/onnx_segment.py, which knows nothing of
// glocal but that recipe, reproduces glocal's label map from the ONNX file with numpy and onnxruntime:
// "reproduces" = the same labels on >= 99.9% of voxels of the input's grid. The remaining voxels may differ
// because two steps add in another order (the bias-field fit's sums, and onnxruntime's CPU kernels against
// glocal's), which only moves voxels whose top two class probabilities nearly tie.

import { CaseSkipped, type TestCase, assert } from '../harness.ts';
import { onnx } from 'onnx-proto';
import { UNet, paperUNet } from '../../src/model/unet.ts';
import { exportOnnx } from '../../src/onnx/onnx.ts';
import { RECIPE_KEY } from '../../src/onnx/recipe.ts';
import { GLOCAL_VERSION } from '../../src/version.ts';
import { generateSubject } from '../../src/data/phantom.ts';
import { prepareVolume, labelsFromProbabilities, type PreprocessOptions } from '../../src/data/pipeline.ts';
import { predictVolume } from '../../src/train/finetune.ts';
import { writeNiftiFile } from '../../src/io/nifti-file.ts';
import { readVolumeFile } from '../../src/io/volume-file.ts';
import { makeDir, writeFileAtomic } from '../../src/io/files.ts';
import type { Vec3, Volume } from '../../src/volume/volume.ts';

export { CaseSkipped };

// variables, so that the neutral bundles (Deno, browser) do not try to resolve Node's modules
const CHILD_PROCESS = 'node:child_process',
  FS_MODULE = 'node:fs/promises';
const PRE: PreprocessOptions = { targetSpacing: 1.7, size: 64, biasField: true };
const CLASSES = ['background', 'RV', 'myocardium', 'LV'];

const recipeCase: TestCase = {
  name: 'ONNX metadata: producer_name, producer_version and the whole preprocessing recipe',
  async run(env) {
    const model = new UNet(env.wasm, paperUNet(4, 0.1), 3);
    const decode = async (extra: object) => onnx.ModelProto.decode(await exportOnnx(model, extra));
    const m = await decode({ preprocess: PRE, classes: CLASSES });
    assert(m.producerName === 'glocal', `producer_name '${m.producerName}'`);
    assert(m.producerVersion === GLOCAL_VERSION, `producer_version '${m.producerVersion}', not ${GLOCAL_VERSION}`);
    const prop = m.metadataProps.find((p) => p.key === RECIPE_KEY);
    assert(prop?.value, `no '${RECIPE_KEY}' metadata`);
    const r = JSON.parse(prop.value);
    const got = [
      r.orientation.to,
      r.slice_axis.relative_tolerance,
      r.bias_field.enabled,
      r.bias_field.degree,
      r.intensity.low_percentile,
      r.intensity.high_percentile,
      r.spacing.in_plane_mm,
      r.size.height,
      r.size.width,
      r.input.h_w_multiple_of,
      r.output.class_names.join('/'),
    ].join();
    const want = `RAS,0.001,true,3,1,99,1.7,64,64,32,${CLASSES.join('/')}`;
    assert(got === want, `recipe ${got}, expected ${want}`);
    // a bare network (no preprocessing known) carries no recipe rather than a wrong one, and still its version
    const bare = await decode({});
    assert(!bare.metadataProps.some((p) => p.key === RECIPE_KEY), 'a bare export claims a recipe');
    assert(bare.producerVersion === GLOCAL_VERSION, 'a bare export lacks producer_version');
  },
};

/** A phantom subject cut to 96×40 pixels (so the network crops one axis and pads the other) and stored with its
 *  slice axis first and one in-plane axis reversed, so that reorientation and the slice-axis move both act. */
function testVolume(): Volume {
  const v = generateSubject(7, 0).image,
    [nx, ny, nz] = v.dims;
  const [w, h] = [96, 40],
    x0 = (nx - w) >> 1,
    y0 = (ny - h) >> 1;
  const dims: Vec3 = [nz, w, h],
    data = new Float32Array(w * h * nz);
  // new (i, j, k) = old (x0 + w − 1 − j, y0 + k, i)
  for (let k = 0; k < h; k++)
    for (let j = 0; j < w; j++)
      for (let i = 0; i < nz; i++) data[i + nz * (j + w * k)] = v.data[x0 + w - 1 - j + nx * (y0 + k + ny * i)];
  const a = v.affine,
    col = (c: number) => [a[c], a[4 + c], a[8 + c]];
  const [cx, cy, cz] = [col(0), col(1), col(2)];
  const origin = [0, 1, 2].map((r) => a[4 * r + 3] + (x0 + w - 1) * cx[r] + y0 * cy[r]);
  const affine = [0, 1, 2].flatMap((r) => [cz[r], -cx[r], cy[r], origin[r]]).concat([0, 0, 0, 1]);
  return { data, dims, spacing: [v.spacing[2], v.spacing[0], v.spacing[1]], affine, source: 'onnx-python' };
}

/** How to run the script here: python3 with numpy and onnxruntime, else CaseSkipped naming what is missing. */
async function python(): Promise<typeof import('node:child_process').spawnSync> {
  if ('Deno' in globalThis) throw new CaseSkipped('Deno runs the suite without --allow-run');
  const { spawnSync } = (await import(/* @vite-ignore */ CHILD_PROCESS)) as typeof import('node:child_process');
  const probe = spawnSync('python3', ['-c', 'import numpy, onnxruntime'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? `python3: ${probe.error.message}` : probe.stderr.trim().split('\n').pop();
    throw new CaseSkipped(`docs/onnx_segment.py not run: ${why} (pip install numpy onnxruntime to run it)`);
  }
  return spawnSync;
}

const pythonCase: TestCase = {
  name: "ONNX: docs/onnx_segment.py (numpy + onnxruntime, the metadata only) reproduces glocal's label map",
  async run(env) {
    const spawnSync = await python();
    const dir = `dist/test-results/onnx-python-${Date.now().toString(36)}`;
    const [image, modelFile, out] = ['image.nii', 'model.onnx', 'labels.nii'].map((f) => `${dir}/${f}`);
    await makeDir(dir);
    await writeNiftiFile(image, testVolume());
    const img = await readVolumeFile(image); // both sides start from the file's float32 voxels
    const model = new UNet(env.wasm, paperUNet(4, 0.25), 5);
    await writeFileAtomic(modelFile, await exportOnnx(model, { preprocess: PRE, classes: CLASSES }));
    const p = await prepareVolume(img, null, PRE);
    const ours = (await labelsFromProbabilities(p, await predictVolume(model, p), 4)).volume;
    const r = spawnSync('python3', ['docs/onnx_segment.py', modelFile, image, out], { encoding: 'utf8' });
    assert(r.status === 0, `docs/onnx_segment.py failed (${r.status}):\n${r.stdout}${r.stderr}`);
    const theirs = await readVolumeFile(out);
    assert(theirs.dims.join() === img.dims.join(), `the script's labels are ${theirs.dims}, the input ${img.dims}`);
    assert(
      theirs.affine.every((x, i) => Math.abs(x - img.affine[i]) < 1e-4),
      "the script's labels are not on the input's grid",
    );
    let same = 0;
    const counts = [0, 0, 0, 0];
    for (let v = 0; v < ours.data.length; v++) {
      same += ours.data[v] === theirs.data[v] ? 1 : 0;
      counts[ours.data[v]]++;
    }
    const agree = same / ours.data.length;
    env.report['onnx python agreement'] = { voxels: ours.data.length, same, counts };
    console.log(
      `# onnx_segment.py: ${same}/${ours.data.length} voxels equal (${(100 * agree).toFixed(3)}%); ours per class ${counts}`,
    );
    // a near-constant map would make agreement meaningless: this seed gives every class (≥ 3 of them above 2%)
    assert(counts.filter((c) => c > 0.02 * ours.data.length).length >= 3, `degenerate label map: ${counts}`);
    assert(agree >= 0.999, `only ${(100 * agree).toFixed(3)}% of voxels agree (${r.stdout.trim()})`);
    const fs = (await import(/* @vite-ignore */ FS_MODULE)) as typeof import('node:fs/promises');
    await fs.rm(dir, { recursive: true, force: true });
  },
};

/** Every runtime: the metadata. */
export const onnxRecipeCases: TestCase[] = [recipeCase];
/** Node only (it spawns python3). */
export const onnxPythonCases: TestCase[] = [pythonCase];
