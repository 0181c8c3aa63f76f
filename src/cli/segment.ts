// glocal segment: a label map of a NIfTI volume or a DICOM series on the input's own grid and affine, by
// glocal's kernels or by onnxruntime-web on an exported model (--engine), as NIfTI and/or a DICOM SEG.
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../runtime/runtime.ts';
import { describeAdapter, isSoftwareAdapter } from '../runtime/device.ts';
import type { UNet } from '../model/unet.ts';
import { fnv1a } from '../data/phantom.ts';
import { checkGeometry, geometryWarnings } from '../data/validate.ts';
import { prepareVolume, labelsFromProbabilities, type PreparedVolume } from '../data/pipeline.ts';
import { predictVolume } from '../train/finetune.ts';
import { readEngineCache } from '../onnx/engine-cache.ts';
import { exportOnnx, onnxModelInfo, onnxRecipe } from '../onnx/onnx.ts';
import { onnxSession, predictVolumeOnnx } from '../onnx/engine.ts';
import { writeNiftiFile } from '../io/nifti-file.ts';
import { readVolumeFile } from '../io/volume-file.ts';
import type { Volume } from '../volume/volume.ts';
import { readFileBytes, writeFileAtomic } from '../io/files.ts';
import type { PreprocessOptions } from '../data/pipeline.ts';
import { recipeOptions } from '../onnx/recipe.ts';
import { overlayPng } from '../data/overlay.ts';
import { checkSegOutput, classNames, writeSegOutput, type SegType } from './seg-out.ts';
import { loadModel, runtime } from './common.ts';
import { claimDerived } from './output-names.ts';
import { byClass } from './json.ts';

export const ENGINES = ['webgpu', 'ort-wasm', 'auto'] as const;
type Engine = 'webgpu' | 'ort-wasm';
type OrtSession = Awaited<ReturnType<typeof onnxSession>>;

export interface SegmentArgs {
  model: string;
  out?: string;
  /** `out` was derived by the wiring (no --out, no --seg-out): a taken name is never replaced */
  derivedOut?: boolean;
  segOut?: string;
  segType: SegType;
  engine: (typeof ENGINES)[number];
  /** overlay PNG of the middle slice at the input's resolution */
  png?: string;
}

/** An ONNX file (by extension, or a protobuf whose first field is ir_version) rather than a safetensors checkpoint. */
export function isOnnxModel(path: string, head: Uint8Array): boolean {
  if (/\.onnx$/i.test(path)) return true;
  // safetensors: an 8-byte little-endian header length, then the JSON header's '{'
  if (head.length > 8 && head[8] === 0x7b) return false;
  return head[0] === 0x08; // ModelProto field 1 (ir_version), varint
}

/** What an engine computed: class probabilities on the prepared grid, and what wrote them. */
interface Prediction {
  p: PreparedVolume;
  probs: Float32Array;
  K: number;
  classes: string[] | undefined;
  /** the engine as the label map's header records it */
  label: string;
  /** what computed it, as printed */
  backend: string;
  pre: PreprocessOptions;
}

/** Milliseconds of one batch of `slices` slices through an engine (after one warm-up run). */
async function timeEngine(run: () => Promise<unknown>): Promise<number> {
  await run();
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

/**
 * --engine auto: on a software adapter (lavapipe, SwiftShader) the faster of glocal's kernels and the exported
 * ONNX on onnxruntime-web's wasm EP, timed once per adapter, network and input size and remembered in
 * ~/.cache/glocal/engines.json; on a hardware adapter, glocal's kernels.
 */
async function chooseEngine<T>(
  rt: Runtime,
  model: UNet<T>,
  p: PreparedVolume,
  ortSession: () => Promise<OrtSession>,
): Promise<{ engine: Engine; why: string }> {
  if (!isSoftwareAdapter(rt.gpu.info)) return { engine: 'webgpu', why: 'a hardware adapter' };
  const cacheFile = join(homedir(), '.cache', 'glocal', 'engines.json');
  const key = `${describeAdapter(rt.gpu.info)} | ${fnv1a(JSON.stringify(model.config))} | ${p.geometry.network[0]} px`;
  const cache = await readEngineCache(cacheFile, (m) => console.warn(`warning: ${m}`)); // a corrupt cache is rebuilt
  if (!cache[key]) {
    const batch = { ...p, nz: Math.min(8, p.nz) },
      session = await ortSession();
    const ms = {
      webgpu: await timeEngine(() => predictVolume(model, batch)),
      'ort-wasm': await timeEngine(() => predictVolumeOnnx(session, batch, model.config.numClasses)),
    };
    cache[key] = { engine: ms.webgpu <= ms['ort-wasm'] ? 'webgpu' : 'ort-wasm', slices: batch.nz, ms };
    await mkdir(join(homedir(), '.cache', 'glocal'), { recursive: true });
    await writeFileAtomic(cacheFile, `${JSON.stringify(cache, null, 1)}\n`);
  }
  const c = cache[key];
  return {
    engine: c.engine,
    why: `measured on ${c.slices} slices: webgpu ${c.ms.webgpu.toFixed(0)} ms, ort-wasm ${c.ms['ort-wasm'].toFixed(0)} ms (${cacheFile})`,
  };
}

/**
 * An ONNX file from glocal export-onnx, on onnxruntime-web's wasm EP, prepared by the recipe in its metadata
 * (glocal.preprocessing, src/onnx/recipe.ts): what a reader outside glocal would follow.
 */
async function predictOrt(img: Volume, model: string, bytes: Uint8Array): Promise<Prediction> {
  const info = onnxModelInfo(bytes, model);
  const pre = recipeOptions(onnxRecipe(bytes, model), model);
  const p = await prepareVolume(img, null, pre);
  const K = info.config.numClasses;
  const probs = await predictVolumeOnnx(await onnxSession(bytes, 'wasm'), p, K);
  const backend = 'ort-wasm (onnxruntime-web, wasm execution provider)';
  console.log(`engine: ${backend}`);
  return { p, probs, K, classes: info.classes, label: 'ort-wasm', backend, pre };
}

/** --engine webgpu or auto: a glocal checkpoint on the chosen backend, or (auto) its export on onnxruntime-web. */
async function predictCheckpoint(img: Volume, a: SegmentArgs): Promise<Prediction> {
  const { ob, be } = await runtime();
  const { model, pre, classes } = await loadModel(a.model, be);
  const p = await prepareVolume(img, null, pre);
  const K = model.config.numClasses;
  let engine: Engine = 'webgpu';
  // the model exported to ONNX and opened in onnxruntime-web at most once, by whichever step needs it first
  let ort: Promise<OrtSession> | null = null;
  const ortSession = () => (ort ??= exportOnnx(model).then((bytes) => onnxSession(bytes, 'wasm')));
  if (a.engine === 'ort-wasm')
    engine = 'ort-wasm'; // a checkpoint: its export, in memory
  else if (a.engine === 'auto' && ob.rt) {
    const c = await chooseEngine(ob.rt, model, p, ortSession);
    engine = c.engine;
    console.log(`engine auto: ${engine} (${c.why})`);
  }
  const probs = engine === 'webgpu' ? await predictVolume(model, p) : await predictVolumeOnnx(await ortSession(), p, K);
  console.log(
    engine === 'webgpu'
      ? `engine: glocal's kernels on ${ob.description}`
      : 'engine: ort-wasm (onnxruntime-web, wasm execution provider, on the exported model)',
  );
  ob.close();
  const backend = engine === 'webgpu' ? ob.description : 'ort-wasm (onnxruntime-web, wasm execution provider)';
  return { p, probs, K, classes, label: engine === 'webgpu' ? `glocal ${ob.kind}` : 'ort-wasm', backend, pre };
}

/** The model file's route: an ONNX file runs on onnxruntime-web (--engine webgpu/auto need a checkpoint). */
async function predict(img: Volume, a: SegmentArgs, engineGiven: boolean): Promise<Prediction> {
  const bytes = await readFileBytes(a.model);
  if (!isOnnxModel(a.model, bytes.subarray(0, 16))) return predictCheckpoint(img, a);
  if (engineGiven && a.engine !== 'ort-wasm')
    throw new Error(
      `--engine ${a.engine} runs a glocal checkpoint (.safetensors); ${a.model} is an ONNX file, which runs on ` +
        'onnxruntime-web: leave --engine out, or give --engine ort-wasm',
    );
  console.log(`model: ${a.model} is an ONNX file: engine ort-wasm, preprocessing from its metadata`);
  return predictOrt(img, a.model, bytes);
}

/** Writes the label map to --out (a derived name: claimed first, never replacing a file); returns the path. */
async function writeLabels(a: SegmentArgs, volume: Volume, r: Prediction, input: string): Promise<string | undefined> {
  if (!a.out) return undefined;
  const claim = a.derivedOut ? await claimDerived(a.out) : null;
  const out = claim?.path ?? a.out;
  try {
    await writeNiftiFile(out, volume, { datatype: 'uint8', description: `glocal segment, engine ${r.label}` });
  } catch (e) {
    await claim?.release();
    throw e;
  }
  console.log(
    `wrote ${out}: ${volume.dims.join('×')} labels on the grid and affine of ${input} (engine recorded in its header)`,
  );
  return out;
}

/** Voxels per class of a label map. */
function voxelCounts(labels: ArrayLike<number>, K: number): number[] {
  const n = new Array<number>(K).fill(0);
  for (let i = 0; i < labels.length; i++) n[labels[i]]++;
  return n;
}

/**
 * `inputs`: one image file, or a DICOM series (its folder or its files); the wiring checked the options.
 * `engineGiven`: --engine was on the command line (not its default). Returns what --json prints.
 */
export async function segment(inputs: string[], a: SegmentArgs, engineGiven = false) {
  // NIfTI or a DICOM series; odd or too large: refused from its header
  const img = await readVolumeFile(inputs, { checkHeader: (h) => checkGeometry(h) }),
    input = img.source;
  if (a.segOut) checkSegOutput(img, a.segOut, a.segType);
  geometryWarnings(img).forEach((w) => console.warn(`warning: ${w}`));
  const r = await predict(img, a, engineGiven);
  const { volume, working } = await labelsFromProbabilities(r.p, r.probs, r.K);
  const classes = classNames(r.classes, r.K);
  const out = await writeLabels(a, volume, r, input);
  if (a.segOut && 'dicom' in img) {
    await writeSegOutput(a.segOut, volume, img, classes, a.segType);
    console.log(`wrote ${a.segOut}: a ${a.segType} DICOM SEG of ${input} (${img.dicom.sopInstanceUIDs.length} images)`);
  }
  if (a.png) {
    await writeFileAtomic(a.png, overlayPng(r.p, working, classes));
    console.log(`overlay of ${r.p.name}, middle slice, at the input's resolution: ${a.png}`);
  }
  return {
    input,
    model: a.model,
    engine: r.label,
    backend: r.backend,
    grid: { size: r.pre.size, spacing: r.pre.targetSpacing, biasField: r.pre.biasField },
    dims: volume.dims,
    spacing: volume.spacing,
    classes,
    voxels: byClass(classes, voxelCounts(volume.data, r.K)),
    outputs: { out: out ?? null, segOut: a.segOut ?? null, segType: a.segOut ? a.segType : null, png: a.png ?? null },
  };
}
