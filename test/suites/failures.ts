// Failure modes (README "Failure modes"): bad input is refused with the file and the problem; a fuzzed NIfTI
// reader only throws its own errors; a diverging run stops and keeps its last good checkpoint; a lost device
// is a clear error and the run resumes from its checkpoint; under a low binding limit batches run in pieces and
// what cannot be split is refused by name; 500 steps hold the GPU allocator and RSS steady.

import { type TestCase, type TestEnv, assert, assertBitwise, relErr, thrown } from '../harness.ts';
import { NiftiError, readNifti, writeNifti } from '../../src/io/nifti.ts';
import type { Vec3, Volume } from '../../src/volume/volume.ts';
import { prepareVolume } from '../../src/data/pipeline.ts';
import { VolumeError } from '../../src/data/validate.ts';
import { scoreLabelMaps } from '../../src/data/evaluate.ts';
import { geometryWarnings } from '../../src/data/validate.ts';
import { preprocessable } from '../../src/data/pipeline.ts';
import { exportOnnx } from '../../src/onnx/onnx.ts';
import { pretextModel, pretrainPretext } from '../../src/contrastive/pretext.ts';
import { OptionError, parseInteger } from '../../src/cli/options.ts';
import { CheckpointError, DivergedError, saveParams, loadParams } from '../../src/train/checkpoint.ts';
import { UNet, largestActivationBytes, splitView, tinyUNet } from '../../src/model/unet.ts';
import { pretrain, pretrainModel, PAPER_PRETRAIN } from '../../src/contrastive/pretrain.ts';
import {
  finetune,
  predictVolume,
  PAPER_FINETUNE,
  type FinetuneOptions,
  type CheckpointHooks,
} from '../../src/train/finetune.ts';
import { SegmentationTrainer } from '../../src/train/segmentation.ts';
import { DeviceLostError, type GpuTensor, LimitError, Runtime } from '../../src/runtime/runtime.ts';
import { SplitBackend } from '../../src/ops/split.ts';
import { GpuBackend } from '../../src/ops/webgpu.ts';
import { loadDataset, DatasetError } from '../../src/data/dataset.ts';
import { labeledTraining } from '../../src/data/splits.ts';
import { readEngineCache } from '../../src/onnx/engine-cache.ts';
import { FileWriteError, nodeFs, writeFileAtomic } from '../../src/io/files.ts';
import { prepareTrainOutputs } from '../../src/cli/outputs.ts';
import { readNiftiFile } from '../../src/io/nifti-file.ts';
import { preparedFromBatch } from './checkpoint.ts';
import { tinyBatch } from './network.ts';
import { gzipSync } from 'fflate';
import { serveDirectory, servedPath } from '../../src/util/static-server.ts';
import { parsePort } from '../../src/cli/options.ts';
import { PRESET_NAMES } from '../../src/presets.ts';
import { fuzzCheckpoints, fuzzManifests, fuzzNifti, syntheticVolume } from './fuzz.ts';

const DIMS: Vec3 = [12, 10, 8];
const PRE = { targetSpacing: 1, size: 16, biasField: false };

const volume = (source: string, fill: (i: number) => number, dims: Vec3 = DIMS): Volume =>
  syntheticVolume(source, fill, dims);
const image = (source = 'img.nii.gz', dims: Vec3 = DIMS) => volume(source, (i) => (i * 37) % 101, dims);
const labels = (source: string, fill: (i: number) => number, dims: Vec3 = DIMS) => volume(source, fill, dims);
/** Preprocess an image (and its labels) with the cases' settings, PRE. */
const prepare = (img: Volume, label: Volume | null = null, classes?: number) => prepareVolume(img, label, PRE, classes);

/** Run fn; it must throw an instance of `type` whose message contains every string in `texts`. */
async function expectError(
  what: string,
  type: new (...a: any[]) => Error,
  texts: string[],
  fn: () => unknown,
): Promise<Error> {
  const err = await thrown(fn);
  assert(err instanceof type, `${what}: expected a ${type.name}, got ${err === undefined ? 'no error' : String(err)}`);
  for (const t of texts)
    assert((err as Error).message.includes(t), `${what}: the message should contain '${t}': ${(err as Error).message}`);
  return err as Error;
}

const patch = (b: Uint8Array, f: (dv: DataView) => void) => {
  const c = b.slice();
  f(new DataView(c.buffer));
  return c;
};

/** A copy of `v` moved `mm` along x in space (the same voxels, another affine). */
const shifted = (v: Volume, mm: number): Volume => ({ ...v, affine: v.affine.map((a, t) => (t === 3 ? a + mm : a)) });

/** `glocal evaluate`'s checks: label values are class indices of the truth (or --classes), on the same grid. */
function evaluateRows(): { what: string; type: new (...a: any[]) => Error; texts: string[]; fn: () => unknown }[] {
  const truth = labels('truth.nii.gz', (i) => i % 3),
    pred = (fill: (i: number) => number) => labels('pred.nii.gz', fill);
  const odd = (x: number) => pred((i) => (i === 4 ? x : i % 3));
  return [
    {
      what: 'evaluate: a voxel of 1e9',
      type: VolumeError,
      texts: ['pred.nii.gz', 'label 1000000000 at voxel (4, 0, 0)', 'classes 0..2 of the truth truth.nii.gz'],
      fn: () => scoreLabelMaps(odd(1e9), truth),
    },
    {
      what: 'evaluate: a truth voxel of 1e9',
      type: VolumeError,
      texts: ['truth.nii.gz', 'label 1000000000', 'class indices 0..255'],
      fn: () =>
        scoreLabelMaps(
          pred((i) => i % 3),
          labels('truth.nii.gz', (i) => (i === 4 ? 1e9 : i % 3)),
        ),
    },
    {
      what: 'evaluate: a class the truth lacks',
      type: VolumeError,
      texts: ['pred.nii.gz', 'label 7', 'name every class with --classes'],
      fn: () => scoreLabelMaps(odd(7), truth),
    },
    {
      what: 'evaluate: beyond --classes',
      type: VolumeError,
      texts: ['pred.nii.gz', 'label 3', 'the classes 0..2 of --classes'],
      fn: () => scoreLabelMaps(odd(3), truth, ['bg', 'a', 'b']),
    },
    {
      what: 'evaluate: fractional',
      type: VolumeError,
      texts: ['pred.nii.gz', 'label 1.5 at voxel (4, 0, 0)'],
      fn: () => scoreLabelMaps(odd(1.5), truth),
    },
    {
      what: 'evaluate: negative',
      type: VolumeError,
      texts: ['pred.nii.gz', 'label -1 at voxel (4, 0, 0)'],
      fn: () => scoreLabelMaps(odd(-1), truth),
    },
    {
      what: 'evaluate: NaN',
      type: VolumeError,
      texts: ['pred.nii.gz', 'label NaN at voxel (4, 0, 0)'],
      fn: () => scoreLabelMaps(odd(NaN), truth),
    },
    {
      what: 'evaluate: shifted 50 mm',
      type: VolumeError,
      texts: ['pred.nii.gz', 'prediction affine differs from the truth truth.nii.gz by up to 50.00 mm'],
      fn: () => scoreLabelMaps(shifted(odd(1), 50), truth),
    },
  ];
}

type Row = { what: string; type: new (...a: any[]) => Error; texts: string[]; fn: () => unknown };

/** A gzipped NIfTI whose header declares `dims` (uint8) followed by `bytes` zeros: what a header promises, cheaply. */
function declaring(dims: Vec3, bytes: number, spacing: Vec3 = [1, 1, 2]): Uint8Array {
  const head = writeNifti(
    {
      ...volume('h.nii', () => 0, [1, 1, 1]),
      spacing,
      affine: [spacing[0], 0, 0, 0, 0, spacing[1], 0, 0, 0, 0, spacing[2], 0, 0, 0, 0, 1],
    },
    { datatype: 'uint8' },
  );
  const b = patch(head, (dv) => dims.forEach((d, i) => dv.setInt16(42 + 2 * i, d, true)));
  const all = new Uint8Array(b.length + bytes);
  all.set(b);
  return gzipSync(all, { level: 1 });
}

/** Results that used to be silently wrong (issue 27 item 5) and limits now read from the header (item 9). */
function silentRows(env: TestEnv): Row[] {
  const vols = [preparedFromBatch('a', 16, 3, 1)];
  const tune = (iterations: number) => () =>
    finetune(new UNet(env.ref, tinyUNet(3), 1), vols, [], { ...PAPER_FINETUNE, iterations, batch: 2, valEvery: 10 });
  const nanCheckpoint = async () => {
    // saveParams refuses NaN weights: they are written into a good file's data
    const b = await saveParams(new UNet(env.ref, tinyUNet(3), 1).params, {
      stage: 'supervised',
      iteration: 1,
      bestValDice: null,
      config: null,
      state: null,
    });
    const dataStart = 8 + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
    new DataView(b.buffer, b.byteOffset).setFloat32(dataStart, NaN, true);
    return b;
  };
  const micro = { ...image('micro.nii.gz'), spacing: [0.001, 0.001, 0.002] as Vec3 };
  const option = (o: string, v: string, texts: string[]): Row => ({
    what: `${o} '${v}'`,
    type: OptionError,
    texts,
    fn: () => parseInteger(o, v, 1),
  });
  return [
    {
      what: 'checkpoint with NaN weights',
      type: CheckpointError,
      texts: ['nan.safetensors', 'holds NaN at element 0', 'not finite'],
      fn: async () => loadParams(new UNet(env.ref, tinyUNet(3), 1).params, await nanCheckpoint(), 'nan.safetensors'),
    },
    {
      what: 'an ONNX file as a checkpoint',
      type: CheckpointError,
      texts: ['model.onnx', 'an ONNX model', '--engine ort-wasm'],
      fn: async () =>
        loadParams(
          new UNet(env.ref, tinyUNet(3), 1).params,
          await exportOnnx(new UNet(env.ref, tinyUNet(3), 1)),
          'model.onnx',
        ),
    },
    {
      what: '1 µm voxels',
      type: VolumeError,
      texts: ['micro.nii.gz', 'voxel size 0.001 × 0.001 × 0.002 mm is outside 0.01..50 mm'],
      fn: () => prepare(micro),
    },
    {
      what: 'pixdim 1e4, from the header',
      type: VolumeError,
      texts: ['wide.nii.gz', 'voxel size 10000 × 1 × 2 mm'],
      fn: () => readNifti(declaring([4, 4, 4], 64, [1e4, 1, 2]), 'wide.nii.gz', { checkHeader: preprocessable(PRE) }),
    },
    {
      what: '1024×1024×500, from the header',
      type: VolumeError,
      texts: ['big.nii.gz', '1024×1024×500 voxels', 'GiB to preprocess at 1 mm, more than the limit of 2 GiB'],
      fn: () => readNifti(declaring([1024, 1024, 500], 1 << 16), 'big.nii.gz', { checkHeader: preprocessable(PRE) }),
    },
    {
      what: 'a gzip declaring 2048×2048×300',
      type: NiftiError,
      texts: ['bomb.nii.gz', '2048×2048×300 = 1258291200 voxels, more than the limit'],
      fn: () => readNifti(declaring([2048, 2048, 300], 4 << 20), 'bomb.nii.gz', { maxBytes: 1 << 20 }),
    },
    {
      what: 'fine-tuning 0 iterations',
      type: RangeError,
      texts: ['fine-tuning iterations must be a whole number ≥ 1, got 0'],
      fn: tune(0),
    },
    { what: 'fine-tuning -5 iterations', type: RangeError, texts: ['got -5'], fn: tune(-5) },
    { what: 'fine-tuning NaN iterations', type: RangeError, texts: ['got NaN'], fn: tune(NaN) },
    option('--iterations', '0x10', ["--iterations must be a whole number ≥ 1 in decimal digits, not '0x10'"]),
    option('--iterations', '1e3', ["not '1e3'"]),
    option('--iterations', '', ["not ''"]),
    option('--labeled', '-5', ['--labeled', "not '-5'"]),
    option('--n', '0', ['--n must be a whole number ≥ 1, not 0']),
    option('--size', '0', ['--size must be a whole number ≥ 1, not 0']),
  ];
}

/** The table of bad inputs: each row names the case, the error type and the text the user must see. */
async function badInputTable(env: TestEnv): Promise<void> {
  const good = writeNifti(image('ok.nii'));
  const K = 3;
  const rows: { what: string; type: new (...a: any[]) => Error; texts: string[]; fn: () => unknown }[] = [
    {
      what: 'truncated NIfTI',
      type: NiftiError,
      texts: ['case.nii', 'bytes of voxel data', 'file has'],
      fn: () => readNifti(good.subarray(0, good.length - 7), 'case.nii'),
    },
    {
      what: 'truncated header',
      type: NiftiError,
      texts: ['case.nii', 'header needs 348 bytes'],
      fn: () => readNifti(good.subarray(0, 100), 'case.nii'),
    },
    {
      what: 'bad magic',
      type: NiftiError,
      texts: ['case.nii', 'not a NIfTI file'],
      fn: () => readNifti(new Uint8Array(400).fill(7), 'case.nii'),
    },
    {
      what: 'corrupt gzip',
      type: NiftiError,
      texts: ['case.nii.gz', 'gzip'],
      fn: () => readNifti(gzipSync(good).subarray(0, 60), 'case.nii.gz'),
    },
    {
      what: 'unsupported datatype (complex64)',
      type: NiftiError,
      texts: ['case.nii', 'datatype code 32', 'not supported'],
      fn: () =>
        readNifti(
          patch(good, (dv) => dv.setInt16(70, 32, true)),
          'case.nii',
        ),
    },
    {
      what: 'absurd dims',
      type: NiftiError,
      texts: ['case.nii', 'dim[2] is -3'],
      fn: () =>
        readNifti(
          patch(good, (dv) => dv.setInt16(44, -3, true)),
          'case.nii',
        ),
    },
    {
      what: 'too many voxels',
      type: NiftiError,
      texts: ['case.nii', 'voxels, more than the limit'],
      fn: () =>
        readNifti(
          patch(good, (dv) => {
            dv.setInt16(42, 30000, true);
            dv.setInt16(44, 30000, true);
          }),
          'case.nii',
        ),
    },
    {
      what: 'gzip past the size limit',
      type: NiftiError,
      texts: ['bomb.nii.gz', 'expands past the limit of 65536 bytes'],
      fn: () => readNifti(declaring([4, 4, 4], 1 << 20), 'bomb.nii.gz', { maxBytes: 1 << 16 }),
    }, // a header, then 1 MiB
    {
      what: 'NaN voxels',
      type: VolumeError,
      texts: ['nan.nii.gz', '2 of 960 voxels are NaN or infinite', 'voxel (5, 0, 0)'],
      fn: () => prepare(volume('nan.nii.gz', (i) => (i === 5 || i === 900 ? NaN : i))),
    },
    {
      what: 'infinite voxel',
      type: VolumeError,
      texts: ['inf.nii.gz', '1 of 960 voxels are NaN or infinite', 'value Infinity'],
      fn: () => prepare(volume('inf.nii.gz', (i) => (i === 17 ? Infinity : i))),
    },
    {
      what: 'empty (all-zero) volume',
      type: VolumeError,
      texts: ['zeros.nii.gz', 'the image is constant (every voxel is 0)'],
      fn: () => prepare(volume('zeros.nii.gz', () => 0)),
    },
    {
      what: 'constant volume',
      type: VolumeError,
      texts: ['flat.nii.gz', 'every voxel is 42'],
      fn: () => prepare(volume('flat.nii.gz', () => 42)),
    },
    {
      what: 'label on another grid',
      type: VolumeError,
      texts: ['lab.nii.gz', 'label grid 12×10×7 differs from its image img.nii.gz (12×10×8)'],
      fn: () =>
        prepare(
          image(),
          labels('lab.nii.gz', () => 0, [12, 10, 7]),
          K,
        ),
    },
    {
      what: 'label outside 0..K-1',
      type: VolumeError,
      texts: ['lab.nii.gz', 'label 5 at voxel (3, 0, 0)', 'integers 0..2 (3 classes)', '2 voxels are'],
      fn: () =>
        prepare(
          image(),
          labels('lab.nii.gz', (i) => (i === 3 || i === 50 ? 5 : i % 3)),
          K,
        ),
    },
    {
      what: 'negative label (class count unknown)',
      type: VolumeError,
      texts: ['lab.nii.gz', 'label -1', 'non-negative integers'],
      fn: () =>
        prepare(
          image(),
          labels('lab.nii.gz', (i) => (i === 7 ? -1 : 0)),
        ),
    },
    {
      what: 'fractional label',
      type: VolumeError,
      texts: ['lab.nii.gz', 'label 1.5'],
      fn: () =>
        prepare(
          image(),
          labels('lab.nii.gz', (i) => (i === 0 ? 1.5 : 1)),
          K,
        ),
    },
    {
      what: 'fewer slices than partitions',
      type: Error,
      texts: ['thin.nii.gz: 3 slices, fewer than the 4 partitions'],
      fn: async () => {
        const model = pretrainModel(env.gpu, tinyUNet(K), 16, { ...PAPER_PRETRAIN.GD, volumes: 2 }, 1);
        try {
          const vol = (name: string, nz: number) => ({ slices: new Float32Array(nz * 256).fill(0.5), nz, name });
          await pretrain(model, [vol('thick.nii.gz', 8), vol('thin.nii.gz', 3)], 16, {
            ...PAPER_PRETRAIN.GD,
            iterations: 1,
            volumes: 2,
          });
        } finally {
          model.params.dispose();
        }
      },
    },
    {
      what: 'checkpoint of another architecture',
      type: CheckpointError,
      texts: ['other.safetensors', 'tensor logits/w has shape [3,3,8,3], the model needs [3,3,8,4]'],
      fn: async () => {
        const a = new UNet(env.ref, tinyUNet(3), 1),
          b = new UNet(env.ref, tinyUNet(4), 1);
        loadParams(
          b.params,
          await saveParams(a.params, { stage: 'finetune', iteration: 1, bestValDice: null, config: null, state: null }),
          'other.safetensors',
        );
      },
    },
    ...evaluateRows(),
    ...silentRows(env),
    {
      what: 'label 50 mm off its image (same dims)',
      type: VolumeError,
      texts: ['lab.nii.gz', 'label affine differs from its image img.nii.gz by up to 50.00 mm', '(50.00, 0.00, 0.00)'],
      fn: () =>
        prepare(
          image(),
          shifted(
            labels('lab.nii.gz', (i) => i % 3),
            50,
          ),
          K,
        ),
    },
    {
      what: 'not a checkpoint',
      type: CheckpointError,
      texts: ['notes.safetensors', 'not a checkpoint'],
      fn: () =>
        loadParams(
          new UNet(env.ref, tinyUNet(3), 1).params,
          new TextEncoder().encode('hello, this is not a tensor file'),
          'notes.safetensors',
        ),
    },
  ];
  for (const r of rows) await expectError(r.what, r.type, r.texts, r.fn);
  env.report.badInputCases = rows.length;
  // and good label maps are scored with the truth's classes (a class absent from both is NaN, not a new column)
  assert(
    parseInteger('--iterations', '16', 1) === 16 && parseInteger('--seed', '0') === 0,
    'plain decimal counts parse',
  );
  // a header without orientation, and a 4-D file, are read with a warning that names the file
  const noOrientation = readNifti(
    patch(writeNifti(image('flat.nii')), (dv) => {
      dv.setInt16(252, 0, true);
      dv.setInt16(254, 0, true);
    }),
    'flat.nii',
  );
  const warned = geometryWarnings({ ...noOrientation, origin: { ...noOrientation.origin!, frames: 30 } }).join('\n');
  assert(
    /flat\.nii: no usable orientation/.test(warned) &&
      /flat\.nii: 30 frames \(4-D\); only the first is used/.test(warned),
    `warnings: ${warned}`,
  );
  const score = await scoreLabelMaps(
    labels('p.nii.gz', (i) => i % 3),
    labels('t.nii.gz', (i) => i % 3),
    ['bg', 'a', 'b', 'c'],
  );
  assert(
    score.K === 4 && score.dice.slice(0, 3).every((d) => d === 1) && Number.isNaN(score.dice[3]),
    `identical maps: ${score.dice}`,
  );
}

// ------------------------------------------------------------------------------------------------ long runs

async function divergence(env: TestEnv): Promise<void> {
  const S = 16,
    vols = [preparedFromBatch('a', S, 3, 1)],
    o: FinetuneOptions = { ...PAPER_FINETUNE, iterations: 8, batch: 2, valEvery: 100, seed: 3 };
  const saved: { it: number; bytes: Uint8Array }[] = [];
  const hooks: CheckpointHooks = { every: 2, save: async (bytes, it) => void saved.push({ it, bytes }) };
  // (1) NaN in the loss: a slice with a NaN pixel is drawn at some iteration after the first checkpoint
  const poisoned = preparedFromBatch('b', S, 3, 2);
  const model = new UNet(env.gpu, tinyUNet(3), 1);
  let drawnBad = false;
  const run = finetune(
    model,
    [vols[0], poisoned],
    [],
    o,
    (p) => {
      if (p.iteration === 4) {
        poisoned.slices[S * S + 5] = NaN;
        drawnBad = true;
      } // from iteration 5 on
    },
    hooks,
  );
  const e = (await expectError(
    'NaN loss',
    DivergedError,
    ['training diverged at iteration', 'the loss is NaN', 'the last good checkpoint is from iteration'],
    () => run,
  )) as DivergedError;
  const last = saved.at(-1)!.it;
  assert(
    drawnBad &&
      e.iteration > 4 &&
      e.lastGood === last &&
      e.iteration <= last + 2 &&
      e.message.includes(`from iteration ${last} `),
    `stopped at ${e.iteration}, last good ${e.lastGood}, last save ${last}`,
  );
  // a single NaN pixel must reach the loss (a ReLU that drops NaN would train on with NaN statistics)
  const lastGoodBytes = saved.at(-1)!.bytes;
  // (2) NaN in the weights (a finite loss, then a bad update): the checkpoint that would hold them is refused
  saved.length = 0;
  const m2 = new UNet(env.gpu, tinyUNet(3), 1);
  await expectError(
    'NaN weights',
    DivergedError,
    ['training diverged at iteration 2', 'NaN/Inf values', 'no checkpoint was written before it'],
    () =>
      finetune(
        m2,
        vols,
        [],
        o,
        (p) => {
          if (p.iteration === 2)
            env.gpu.assign(m2.params.slots[0].v.value, new Float32Array(m2.params.slots[0].v.value.size).fill(NaN));
        },
        hooks,
      ),
  );
  assert(saved.length === 0, 'no checkpoint written with NaN weights');
  // the last good checkpoint of (1) resumes and finishes once the bad slice is gone
  poisoned.slices[S * S + 5] = 0.5;
  const m3 = new UNet(env.gpu, tinyUNet(3), 9);
  const r = await finetune(m3, [vols[0], poisoned], [], o, undefined, {
    every: 2,
    save: async () => {},
    resume: { bytes: lastGoodBytes, source: 'last good' },
  });
  assert(r.losses.length === o.iterations - last && r.losses.every(Number.isFinite), `resumed: ${r.losses}`);
  [model, m2, m3].forEach((m) => m.params.dispose());
}

async function lostDevice(env: TestEnv): Promise<void> {
  const S = 16,
    vols = [preparedFromBatch('a', S, 3, 1), preparedFromBatch('b', S, 3, 2)];
  const o: FinetuneOptions = { ...PAPER_FINETUNE, iterations: 6, batch: 2, valEvery: 100, seed: 4 };
  // the reference: an uninterrupted run on the shared runtime
  const ref = new UNet(env.gpu, tinyUNet(3), 5);
  await finetune(ref, vols, [], o);
  const want = await env.rt.read(...ref.params.slots.map((s) => s.v.value));
  ref.params.dispose();
  // a run on its own runtime whose device is destroyed after iteration 3 (checkpoints every 2)
  const rt = await Runtime.create({ poison: true }),
    be = new GpuBackend(rt);
  const saved: { it: number; bytes: Uint8Array }[] = [];
  const hooks: CheckpointHooks = { every: 2, save: async (bytes, it) => void saved.push({ it, bytes }) };
  const doomed = new UNet(be, tinyUNet(3), 5);
  await expectError(
    'lost device',
    DeviceLostError,
    ['the GPU device was lost (destroyed', 'resume from the last checkpoint'],
    () =>
      finetune(
        doomed,
        vols,
        [],
        o,
        (p) => {
          if (p.iteration === 3) rt.device.destroy();
        },
        hooks,
      ),
  );
  assert(saved.at(-1)?.it === 2, `last checkpoint ${saved.at(-1)?.it}`);
  // free what the lost device held now, not at process exit (destroying buffers of a lost device is allowed)
  doomed.params.dispose();
  rt.destroy();
  // a new runtime resumes from that checkpoint and reaches the uninterrupted run's weights bit for bit
  const rt2 = await Runtime.create({ poison: true }),
    be2 = new GpuBackend(rt2);
  try {
    const resumed = new UNet(be2, tinyUNet(3), 77);
    await finetune(resumed, vols, [], o, undefined, {
      every: 2,
      save: async () => {},
      resume: { bytes: saved.at(-1)!.bytes, source: 'ckpt-2' },
    });
    const got = await rt2.read(...resumed.params.slots.map((s) => s.v.value));
    got.forEach((w, i) => assertBitwise(`resumed after a lost device: ${resumed.params.slots[i].name}`, w, want[i]));
  } finally {
    rt2.destroy();
  }
}

async function limits(env: TestEnv): Promise<void> {
  const S = 16,
    cfg = tinyUNet(3),
    one = largestActivationBytes(cfg, S),
    limit = 3 * one;
  const rt = await Runtime.create({ poison: true, limitOverrides: { maxStorageBufferBindingSize: limit } }),
    be = new GpuBackend(rt);
  try {
    assert(rt.maxTensorBytes === limit, `our device layer keeps the lower limit: ${rt.maxTensorBytes} vs ${limit}`);
    // inference: a 10-slice volume asked in batches of 8 runs in pieces of 3 and equals the unsplit run bit for bit
    const vol = preparedFromBatch('v', S, 10, 4);
    const small = new UNet(be, cfg, 6),
      big = new UNet(env.gpu, cfg, 6);
    const bytes = await saveParams(big.params, {
      stage: 'x',
      iteration: 0,
      bestValDice: null,
      config: null,
      state: null,
    });
    loadParams(small.params, bytes, 'same weights');
    const [got, want] = [await predictVolume(small, vol, 8), await predictVolume(big, vol, 8)];
    assertBitwise('inference split to fit the binding limit', got, want);
    // training: a batch of 4 where 3 fit runs as pieces [2, 2] with batch-norm statistics over all 4 images
    const { x, y } = tinyBatch(4, S);
    const whole = new UNet(env.gpu, cfg, 8),
      pieces = new UNet(be, cfg, 8);
    const lw = await new SegmentationTrainer(whole).gradients(
      env.gpu.fromHost(x, [4, S, S, 1]),
      env.gpu.fromHost(y, [4, S, S, 3]),
    );
    const sb = new SplitBackend(be, [2, 2]),
      { view } = splitView(pieces, sb);
    const lp = await new SegmentationTrainer(view).gradients(
      sb.fromHostPieces(x, [4, S, S, 1]),
      sb.fromHostPieces(y, [4, S, S, 3]),
    );
    assert(Math.fround(lw) === Math.fround(lp), `Dice loss of the split batch ${lp} vs ${lw}`);
    const stats = async (rt: Runtime, m: UNet<GpuTensor>) =>
      rt.read(...m.params.batchNorms.flatMap((b) => [b.state.movingMean, b.state.movingVar]));
    const [sw, sp] = [await stats(env.rt, whole), await stats(rt, pieces)];
    sw.forEach((v, i) => assertBitwise(`moving statistics ${i} after a split batch`, sp[i], v));
    let worst = 0;
    for (let i = 0; i < whole.params.slots.length; i++) {
      const gw = await env.rt.read1(whole.params.slots[i].v.grad!),
        gp = await sb.toHost(view.params.slots[i].v.grad!);
      worst = Math.max(worst, relErr(gp, gw));
    }
    assert(worst < 1e-5, `gradients of the split batch: worst relative error ${worst}`);
    whole.params.dropGrads();
    view.params.dropGrads();
    // and fine-tuning picks the pieces by itself
    const r = await finetune(pieces, [vol], [], { ...PAPER_FINETUNE, iterations: 2, batch: 4, valEvery: 10 });
    assert(r.losses.length === 2 && r.losses.every(Number.isFinite), `fine-tuning in pieces: ${r.losses}`);
    env.report.splitBatch = { pieces: [2, 2], worstGradientRelErr: worst };
    whole.params.dispose();
    // what cannot be split is refused by name: one slice larger than the limit, one tensor larger than the limit
    await expectError(
      'one slice too large',
      LimitError,
      ['inference of one 64×64 slice', 'maxStorageBufferBindingSize'],
      () => predictVolume(small, { ...preparedFromBatch('w', 64, 1, 5) }, 1),
    );
    await expectError(
      'one tensor too large',
      LimitError,
      [`a tensor [${limit / 4 + 1}] of ${limit + 4} bytes exceeds this adapter's maxStorageBufferBindingSize`],
      () => rt.empty([limit / 4 + 1]),
    );
    for (const m of [small, big, pieces]) m.params.dispose();
  } finally {
    rt.destroy();
  }
}

/** A pretext stage stops after the step during which `stop` turned true, with a checkpoint (it used to run on). */
async function pretextStop(env: TestEnv): Promise<void> {
  const vols = [0, 1].map((i) => ({ slices: preparedFromBatch(`p${i}`, 16, 4, i + 1).slices, nz: 4, name: `p${i}` }));
  const model = pretextModel(env.ref, tinyUNet(3), 16, 'inpainting', 1),
    saved: number[] = []; // CPU: no shaders to compile
  try {
    const r = await pretrainPretext(
      model,
      vols,
      16,
      { task: 'inpainting', iterations: 5, batch: 2, seed: 1 },
      undefined,
      { every: 100, stop: () => true, save: async (_b, it) => void saved.push(it) },
    );
    assert(
      r.stopped && r.losses.length === 1 && saved.join() === '1',
      `stopped ${r.stopped} after ${r.losses.length} steps, saved ${saved}`,
    );
    await expectError(
      'pretext 0 iterations',
      RangeError,
      ['pretext iterations must be a whole number ≥ 1, got 0'],
      () => pretrainPretext(model, vols, 16, { task: 'inpainting', iterations: 0, batch: 2, seed: 1 }),
    );
  } finally {
    model.params.dispose();
  }
}

export const failureCases: TestCase[] = [
  {
    name: 'failures: a pretext stage reads stop (cancel) after each step, as the contrastive stages do',
    run: pretextStop,
  },
  { name: 'failures: a table of bad inputs, each refused with its file and the problem', run: badInputTable },
  {
    name: 'failures: 10 000 mutated NIfTI files (seed 20261126): the reader only throws NiftiError, within 2 s and 1 MiB each',
    run: fuzzNifti,
  },
  {
    name:
      'failures: 2 000 mutated safetensors checkpoints (seed 20261207): loadParams only throws CheckpointError ' +
      'naming the file, within 2 s each',
    run: fuzzCheckpoints,
  },
  {
    name: 'failures: NaN in the loss or the weights stops training with the last good checkpoint named; no bad checkpoint is written',
    run: divergence,
  },
  {
    name: 'failures: a lost device (device.destroy()) is a DeviceLostError; a new runtime resumes from the checkpoint to the same bits',
    run: lostDevice,
  },
  {
    name: 'failures: under an artificially low binding limit, inference and training run their batch in pieces (BN statistics over the whole batch, same loss bits); what cannot be split is refused naming the limit',
    run: limits,
  },
];

// ------------------------------------------------------------------------------------------------ Node and Deno

const rss = (): number => {
  const g = globalThis as any;
  if (g.Deno) {
    g.gc?.(); // the Deno runners pass --v8-flags=--expose-gc (package.json, scripts/test-all.mjs)
    return g.Deno.memoryUsage().rss;
  }
  // in Node, collect garbage first: in the full suite's 1.2 GB process, when the collector last ran moved RSS by
  // tens of MiB either way between samples
  const v8 = g.process.getBuiltinModule('node:v8'),
    vm = g.process.getBuiltinModule('node:vm'); // not bundled
  v8.setFlagsFromString('--expose-gc');
  vm.runInNewContext('gc')();
  return g.process.memoryUsage().rss;
};

/** `glocal train`'s output folder after a kill (issue 27 items 8 and 13), and a full disk (Node, Deno). */
async function crashAtFirstCheckpoint(): Promise<void> {
  const dir = `dist/test-results/resume-${Date.now().toString(36)}`,
    fs = await nodeFs();
  await fs.mkdir(dir, { recursive: true });
  try {
    // a kill during the first best.safetensors write leaves its temp file only, named by a process now gone
    const before = (Date.now() - 3_600_000).toString(36),
      now = Date.now().toString(36);
    const stale = `best.safetensors.${before}-k1ll3d0.tmp`;
    // not ours to remove: other names, another target, and a temp of this process (a write still in flight)
    const kept = [
      'notes.tmp',
      'best.safetensors.tmp',
      `model.onnx.${before}-a1b2c3.tmp`,
      `last.safetensors.${now}-l1v.tmp`,
    ].sort();
    for (const f of [stale, ...kept]) await fs.writeFile(`${dir}/${f}`, 'x');
    await expectError(
      '--resume after a kill in the first checkpoint',
      Error,
      [
        `--resume: nothing to resume in ${dir}: there is no last.safetensors`,
        'stopped before its first checkpoint was complete',
        'run without --resume to start over',
      ],
      () => prepareTrainOutputs({ out: dir, resume: true }),
    );
    const left = (await fs.readdir(dir)).sort();
    assert(left.join() === kept.join(), `left in ${dir}: ${left}`);
    await writeFileAtomic(`${dir}/last.safetensors`, new Uint8Array([1, 2, 3]));
    const r = await prepareTrainOutputs({ out: dir, resume: true });
    assert(r?.source === `${dir}/last.safetensors` && r.bytes.length === 3 && !r.best, `resume read ${r?.source}`);
    await expectError(
      '--png into a missing folder',
      Error,
      [`--png ${dir}/none/o.png: the folder ${dir}/none does not exist`],
      () => prepareTrainOutputs({ out: `${dir}/run`, png: `${dir}/none/o.png` }),
    );
    assert(!(await fs.readdir(dir)).includes('run'), 'the --png check comes before anything is created');
    // a full disk: every write (checkpoints, export-onnx) goes through writeFileAtomic, whose error names the file
    const probe = await fs.open(`${dir}/probe`, 'w');
    const handle = Object.getPrototypeOf(probe),
      writeFile = handle.writeFile;
    await probe.close();
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    handle.writeFile = async () => {
      throw full;
    };
    try {
      for (const f of ['best.safetensors', 'model.onnx']) {
        await expectError(
          `ENOSPC writing ${f}`,
          FileWriteError,
          [`${dir}/${f}: could not write it (no space left on the device`],
          () => writeFileAtomic(`${dir}/${f}`, new Uint8Array(64)),
        );
      }
    } finally {
      handle.writeFile = writeFile;
    }
    const after = (await fs.readdir(dir)).filter((f) => !kept.includes(f)).sort();
    assert(after.join() === 'last.safetensors,probe', `a failed write left ${after}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Node and Deno (process RSS, files). */
export const failureProcessCases: TestCase[] = [
  {
    name:
      'failures: 1 000 mutated manifests (manifest.json, manifest.csv; seed 20261208): loadDataset only throws ' +
      'DatasetError naming the folder, within 2 s each',
    run: fuzzManifests,
  },
  {
    name:
      'failures: a run killed in its first checkpoint write: --resume says there is nothing to resume, its temp ' +
      'files go (no others); ENOSPC names the file; a missing --png folder is refused up front',
    run: crashAtFirstCheckpoint,
  },
  {
    name: 'failures: 500 train steps keep live GPU buffers and bytes constant after warm-up, and RSS growth bounded',
    async run(env) {
      const B = 2,
        S = 16,
        { x, y } = tinyBatch(B, S);
      const xs = env.gpu.fromHost(x, [B, S, S, 1]),
        ys = env.gpu.fromHost(y, [B, S, S, 3]);
      const model = new UNet(env.gpu, tinyUNet(3), 3),
        trainer = new SegmentationTrainer(model);
      for (let i = 0; i < 20; i++) await trainer.step(xs, ys);
      const s0 = { ...env.rt.pool.stats },
        r0 = rss();
      // RSS sampled every 25 steps over 100..200 and 400..500: the median of each window, so one sample caught
      // before a collection or an allocator release does not decide the case
      const early: number[] = [],
        late: number[] = [];
      for (let i = 1; i <= 500; i++) {
        const loss = await trainer.step(xs, ys);
        assert(Number.isFinite(loss), `step ${i}: loss ${loss}`);
        if (i % 25 === 0 && i >= 100 && i <= 200) early.push(rss());
        if (i % 25 === 0 && i >= 400) late.push(rss());
      }
      const median = (r: number[]) => [...r].sort((a, b) => a - b)[r.length >> 1];
      const s1 = env.rt.pool.stats,
        [r100, r1] = [median(early), median(late)];
      assert(
        s1.liveBuffers === s0.liveBuffers && s1.liveBytes === s0.liveBytes && s1.createdBuffers === s0.createdBuffers,
        `after 500 steps: live buffers ${s0.liveBuffers} -> ${s1.liveBuffers}, bytes ${s0.liveBytes} -> ${s1.liveBytes}, created ${s1.createdBuffers - s0.createdBuffers}`,
      );
      // RSS: the last 300 steps may not keep growing (a leak of 160 KiB a step would be 47 MiB)
      const grew = (r1 - r100) / 2 ** 20,
        mib = (r: number[]) => r.map((x) => (x / 2 ** 20).toFixed(0)).join(' ');
      assert(
        grew < 48,
        `RSS grew ${grew.toFixed(1)} MiB between the medians of steps 100..200 (${mib(early)} MiB) and 400..500 (${mib(late)} MiB)`,
      );
      env.report.longRun = {
        steps: 500,
        liveBuffers: s1.liveBuffers,
        liveBytes: s1.liveBytes,
        rssMiB: [r0, r100, r1].map((r) => Math.round(r / 2 ** 20)),
      };
      model.params.dispose();
      xs.release();
      ys.release();
    },
  },
  {
    name: 'failures: a manifest pointing to a missing file, and a truncated file on disk, are refused by path',
    async run() {
      const dir = `dist/test-results/failures-${Date.now().toString(36)}`;
      const fs = await nodeFs();
      await fs.mkdir(dir, { recursive: true });
      try {
        await writeFileAtomic(`${dir}/a.nii`, writeNifti(image('a.nii')));
        await writeFileAtomic(
          `${dir}/manifest.json`,
          JSON.stringify([{ image: 'a.nii' }, { image: 'b.nii.gz', label: 'b_gt.nii.gz' }]),
        );
        await expectError(
          'manifest with a missing file',
          DatasetError,
          ['manifest.json', 'entry b', 'b.nii.gz does not exist'],
          () => loadDataset(dir),
        );
        const bytes = await fs.readFile(`${dir}/a.nii`);
        await fs.writeFile(`${dir}/cut.nii`, bytes.subarray(0, bytes.length - 100));
        await expectError('truncated file', NiftiError, [`${dir}/cut.nii`, 'bytes of voxel data'], () =>
          readNiftiFile(`${dir}/cut.nii`),
        );
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'failures: the app server answers a malformed path (GET /%) with 400 and keeps serving; a port in use or not a port is refused in words',
    async run() {
      const dir = `dist/test-results/serve-${Date.now().toString(36)}`,
        fs = await nodeFs();
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(`${dir}/index.html`, 'hello');
      const { server, url } = await serveDirectory(dir, 0);
      try {
        // a request that got no answer (the handler died) must fail the case, not stall it
        const get = async (path: string) => {
          const r = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
          return { status: r.status, body: await r.text() };
        };
        for (const bad of ['/%', '/%E0%A4%A', '/a%2f..%2f..%2fsecret'])
          assert((await get(bad)).status === 400, `GET ${bad}: not a 400`);
        assert(
          servedPath('/a/%2e%2e%2f..%2fetc/passwd') === null && servedPath('/x/') === '/x/index.html',
          'encoded ../ leaves the folder',
        );
        const ok = await get('/');
        assert(ok.status === 200 && ok.body === 'hello', `after bad requests, GET / gave ${ok.status} ${ok.body}`);
        const port = Number(new URL(url).port);
        await expectError('a port in use', Error, [`port ${port} on 127.0.0.1 is already in use`], () =>
          serveDirectory(dir, port),
        );
        for (const bad of ['http', '-1', '65536', '0x1f90', ''])
          await expectError(`port '${bad}'`, OptionError, ['port must be a whole number from 0 to 65535'], () =>
            parsePort(bad),
          );
      } finally {
        server.closeAllConnections();
        server.close();
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'failures: layouts without splits get the seeded default split; duplicates, absolute paths, a "volumes" key and --labeled beyond the pool',
    async run() {
      const dir = `dist/test-results/splits-${Date.now().toString(36)}`,
        fs = await nodeFs();
      const nii = (name: string, v: Volume) => writeFileAtomic(`${dir}/${name}`, writeNifti(v));
      try {
        // an MSD folder of 6 labeled volumes and one unlabeled: no split anywhere
        await fs.mkdir(`${dir}/msd/imagesTr`, { recursive: true });
        await fs.mkdir(`${dir}/msd/labelsTr`, { recursive: true });
        for (let i = 0; i < 7; i++) {
          await nii(`msd/imagesTr/case_${i}.nii`, image(`case_${i}.nii`));
          if (i < 6)
            await nii(
              `msd/labelsTr/case_${i}.nii`,
              labels(`case_${i}.nii`, (j) => j % 3),
            );
        }
        const a = await loadDataset(`${dir}/msd`),
          b = await loadDataset(`${dir}/msd`);
        const count = (sp: string) => a.entries.filter((e) => e.split === sp).length;
        assert(
          [count('train'), count('val'), count('test'), count('unlabeled')].join() === '4,1,1,1',
          `default split ${a.entries.map((e) => e.split)}`,
        );
        assert(
          a.entries.map((e) => e.split).join() === b.entries.map((e) => e.split).join(),
          'the default split is not repeatable',
        );
        assert(
          /no splits given: the default split \(seed 1\) puts 4 labeled volumes in train, 1 in val, 1 in test/.test(
            a.splitNote ?? '',
          ),
          `note: ${a.splitNote}`,
        );
        assert(labeledTraining(a, 2, 1).length === 2, 'two of four labeled volumes');
        await expectError(
          '--labeled 999',
          DatasetError,
          [`${dir}/msd`, '--labeled 999: the dataset has only 4 labeled training volumes'],
          () => labeledTraining(a, 999, 1),
        );
        // manifests: a volume in train and in test, an absolute path, a "volumes" key
        await nii('x.nii', image('x.nii'));
        await nii(
          'x_gt.nii',
          labels('x_gt.nii', (j) => j % 3),
        );
        const manifest = (m: unknown) => writeFileAtomic(`${dir}/manifest.json`, JSON.stringify(m));
        const entry = (split: string, image = 'x.nii') => ({ image, label: 'x_gt.nii', split });
        await manifest({ entries: [entry('train'), entry('test')] });
        await expectError(
          'a volume in train and test',
          DatasetError,
          ['manifest.json', 'x.nii is listed twice', '(split train)', '(split test)'],
          () => loadDataset(dir),
        );
        const absolute = `${(globalThis as any).Deno ? (globalThis as any).Deno.cwd() : (globalThis as any).process.cwd()}/${dir}/x.nii`;
        await manifest({ entries: [entry('train', absolute)] });
        assert((await loadDataset(dir)).entries[0].image === absolute, 'an absolute image path is taken as given');
        await manifest({ entries: [entry('train', '/no/such/dir/y.nii')] });
        await expectError('a missing absolute path', DatasetError, ['file /no/such/dir/y.nii does not exist'], () =>
          loadDataset(dir),
        );
        await manifest({ volumes: [entry('train')] });
        await expectError(
          'a "volumes" key',
          DatasetError,
          ['manifest.json', 'must be named "entries", not "volumes"'],
          () => loadDataset(dir),
        );
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'failures: a corrupt engine cache (segment --engine auto) is rebuilt with a warning that names it, not an error for good',
    async run() {
      const dir = `dist/test-results/engines-${Date.now().toString(36)}`,
        fs = await nodeFs(),
        file = `${dir}/engines.json`;
      await fs.mkdir(dir, { recursive: true });
      try {
        const warnings: string[] = [];
        assert(
          Object.keys(await readEngineCache(file, (w) => warnings.push(w))).length === 0 && !warnings.length,
          'no cache yet: empty, silent',
        );
        const good = { k: { engine: 'webgpu', slices: 8, ms: { webgpu: 5, 'ort-wasm': 9 } } };
        await fs.writeFile(file, JSON.stringify(good));
        assert(
          (await readEngineCache(file, (w) => warnings.push(w))).k?.engine === 'webgpu' && !warnings.length,
          'a good cache is read',
        );
        for (const bad of ['{"k": {"engine": "web', '[1, 2]', '{"k": {"engine": "cuda"}}']) {
          await fs.writeFile(file, bad);
          warnings.length = 0;
          const got = await readEngineCache(file, (w) => warnings.push(w));
          assert(
            Object.keys(got).length === 0 &&
              warnings.length === 1 &&
              warnings[0].startsWith(`${file}: `) &&
              warnings[0].includes('measuring again'),
            `cache '${bad}': ${JSON.stringify(got)}, warnings ${warnings}`,
          );
        }
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  },
];

// ------------------------------------------------------------------------------------------------ the CLI (Node)

/** Run dist/cli.js (the `glocal` bin, a Node program) with `args`; its exit status and output. */
function cli(args: string[]): { status: number | null; out: string } {
  const proc = (globalThis as any).process,
    { spawnSync } = proc.getBuiltinModule('node:child_process'); // not bundled
  const r = spawnSync(proc.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The `glocal` command itself, in Node (it is a Node program): help texts and checks made before any work. */
export const failureCliCases: TestCase[] = [
  {
    name:
      'failures (CLI): experiment --help names every preset; train --png into a missing folder and --resume with ' +
      'nothing to resume fail at once',
    async run() {
      const help = cli(['experiment', '--help']);
      for (const name of PRESET_NAMES)
        assert(help.out.includes(name), `experiment --help omits '${name}':\n${help.out}`);
      // absolute: train resolves --out, and its messages name the resolved folder
      const dir = `${(globalThis as any).process.cwd()}/dist/test-results/cli-${Date.now().toString(36)}`;
      const fs = await nodeFs();
      await fs.mkdir(dir, { recursive: true });
      try {
        // --data names no dataset: the checks must come first, before the dataset is read or anything is trained
        const png = cli(['train', '--data', `${dir}/no-data`, '--out', `${dir}/run`, '--png', `${dir}/none/o.png`]);
        const pngSaid = `--png ${dir}/none/o.png: the folder ${dir}/none does not exist`;
        assert(png.status === 1 && png.out.includes(pngSaid), `train --png: ${png.out}`);
        await fs.writeFile(`${dir}/best.safetensors.${(Date.now() - 3_600_000).toString(36)}-k1ll3d0.tmp`, 'x');
        const resume = cli(['train', '--data', `${dir}/no-data`, '--out', dir, '--resume']);
        const resumeSaid = `glocal: --resume: nothing to resume in ${dir}: there is no last.safetensors`;
        assert(
          resume.status === 1 && resume.out.includes(resumeSaid) && !resume.out.includes('ENOENT'),
          `train --resume: ${resume.out}`,
        );
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  },
];
