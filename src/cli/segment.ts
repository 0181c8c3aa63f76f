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
import { exportOnnx, onnxModelInfo } from '../onnx/onnx.ts';
import { onnxSession, predictVolumeOnnx } from '../onnx/engine.ts';
import { writeNiftiFile } from '../io/nifti-file.ts';
import { readVolumeFile } from '../io/volume-file.ts';
import type { Volume } from '../volume/volume.ts';
import { readFileBytes, writeFileAtomic } from '../io/files.ts';
import { checkSegOutput, classNames, writeSegOutput, type SegType } from './seg-out.ts';
import { loadModel, runtime } from './common.ts';

export const ENGINES = ['webgpu', 'ort-wasm', 'auto'] as const;
type Engine = 'webgpu' | 'ort-wasm';
type OrtSession = Awaited<ReturnType<typeof onnxSession>>;

export interface SegmentArgs {
  model: string;
  out?: string;
  segOut?: string;
  segType: SegType;
  engine: (typeof ENGINES)[number];
}

/** What an engine computed: class probabilities on the prepared grid, and what wrote them. */
interface Prediction {
  p: PreparedVolume;
  probs: Float32Array;
  K: number;
  classes: string[] | undefined;
  /** the engine as the label map's header records it */
  label: string;
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

/** --engine ort-wasm: an ONNX file from glocal export-onnx, which carries its configuration and preprocessing. */
async function predictOrt(img: Volume, model: string): Promise<Prediction> {
  const bytes = await readFileBytes(model),
    info = onnxModelInfo(bytes, model);
  if (!info.preprocess)
    throw new Error(`${model}: the ONNX file records no preprocessing (export it with glocal export-onnx)`);
  const p = await prepareVolume(img, null, info.preprocess);
  const K = info.config.numClasses;
  const probs = await predictVolumeOnnx(await onnxSession(bytes, 'wasm'), p, K);
  console.log('engine: ort-wasm (onnxruntime-web, wasm execution provider)');
  return { p, probs, K, classes: info.classes, label: 'ort-wasm' };
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
  if (a.engine === 'auto' && ob.rt) {
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
  return { p, probs, K, classes, label: engine === 'webgpu' ? `glocal ${ob.kind}` : 'ort-wasm' };
}

/** `inputs`: one image file, or a DICOM series (its folder or its files); the wiring checked the options. */
export async function segment(inputs: string[], a: SegmentArgs): Promise<void> {
  // NIfTI or a DICOM series; odd or too large: refused from its header
  const img = await readVolumeFile(inputs, { checkHeader: (h) => checkGeometry(h) }),
    input = img.source;
  if (a.segOut) checkSegOutput(img, a.segOut, a.segType);
  geometryWarnings(img).forEach((w) => console.warn(`warning: ${w}`));
  const r = a.engine === 'ort-wasm' ? await predictOrt(img, a.model) : await predictCheckpoint(img, a);
  const { volume } = await labelsFromProbabilities(r.p, r.probs, r.K);
  if (a.out) {
    await writeNiftiFile(a.out, volume, { datatype: 'uint8', description: `glocal segment, engine ${r.label}` });
    console.log(
      `wrote ${a.out}: ${volume.dims.join('×')} labels on the grid and affine of ${input} ` +
        '(engine recorded in its header)',
    );
  }
  if (a.segOut && 'dicom' in img) {
    await writeSegOutput(a.segOut, volume, img, classNames(r.classes, r.K), a.segType);
    console.log(`wrote ${a.segOut}: a ${a.segType} DICOM SEG of ${input} (${img.dicom.sopInstanceUIDs.length} images)`);
  }
}
