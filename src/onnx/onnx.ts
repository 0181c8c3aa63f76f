// ONNX export and import of the segmentation UNet (inference graph: batch norm with its moving averages).
// The graph is NCHW, as ONNX's operators are: input "image" [N, 1, H, W], output "logits" [N, K, H, W]
// (glocal's own tensors are NHWC; for one input channel the input bytes are the same). Convolution weights
// go from glocal's [kh, kw, cin, cout] to ONNX's [cout, cin, kh, kw]. Each initializer keeps the glocal
// parameter name, so a file exported here loads back into a UNet of the same configuration.
// Protobuf encoding and decoding is onnx-proto's (the ONNX schema compiled by protobufjs).

import { onnx } from 'onnx-proto';
import type { UNet, UNetConfig } from '../model/unet.ts';
import type { PreprocessOptions } from '../data/pipeline.ts';
import { GLOCAL_VERSION } from '../version.ts';
import { RECIPE_KEY, preprocessingRecipe, sideMultiple } from './recipe.ts';

/** ONNX opset of the exported graph (Resize with `nearest_mode`, BatchNormalization without training outputs). */
export const ONNX_OPSET = 17;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

export class OnnxError extends Error {
  constructor(
    readonly source: string,
    problem: string,
  ) {
    super(`${source}: ${problem}`);
    this.name = 'OnnxError';
  }
}

/**
 * Metadata the exported file carries so that it can be rebuilt and used on volumes: the UNet configuration,
 * BN epsilon, and (when known) the preprocessing and class names of the model.
 */
export interface OnnxModelInfo {
  config: UNetConfig;
  bnEps: number;
  producer: string;
  preprocess?: PreprocessOptions;
  classes?: string[];
}

interface ConvLayer {
  name: string;
  k: number;
  bias: boolean;
  bn: boolean;
}

/** The layers of a configuration in graph order with their parameter names (those UNet's constructor gives them). */
function layers(cfg: UNetConfig) {
  const block = (name: string, k: number): ConvLayer => ({ name, k, bias: true, bn: true });
  return {
    encoder: cfg.encoder.map((level, li) => level.map((_, j) => block(`enc${li + 1}_${j + 1}`, 3))),
    decoder: cfg.decoder.map((d, bi) => ({
      up: block(`dec${bi + 1}_up`, 2),
      convs: d.convs.map((_, j) => block(`dec${bi + 1}_${j + 1}`, 3)),
    })),
    head: cfg.head.map((_, j) => block(`head_${j + 1}`, 3)),
    logits: { name: 'logits', k: 3, bias: false, bn: false } as ConvLayer,
  };
}

/** Each conv weight's index in [kh, kw, cin, cout] (ours) and in [cout, cin, kh, kw] (ONNX's). */
function convWeightIndices(kh: number, kw: number, ci: number, co: number, f: (hwio: number, oihw: number) => void) {
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) f(((y * kw + x) * ci + i) * co + o, ((o * ci + i) * kh + y) * kw + x);
}

/** [kh, kw, cin, cout] → [cout, cin, kh, kw] */
function hwioToOihw(w: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(w.length);
  convWeightIndices(kh, kw, ci, co, (hwio, oihw) => {
    out[oihw] = w[hwio];
  });
  return out;
}

/** [cout, cin, kh, kw] → [kh, kw, cin, cout] */
function oihwToHwio(w: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(w.length);
  convWeightIndices(kh, kw, ci, co, (hwio, oihw) => {
    out[hwio] = w[oihw];
  });
  return out;
}

const attr = {
  ints: (name: string, ints: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints }),
  int: (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i }),
  float: (name: string, f: number) => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f }),
  string: (name: string, s: string) => ({
    name,
    type: onnx.AttributeProto.AttributeType.STRING,
    s: new TextEncoder().encode(s),
  }),
};

/** Serialise the model's segmentation network (inference mode) to ONNX bytes. Heads g1/g2 are not exported. */
export async function exportOnnx<T>(
  model: UNet<T>,
  extra: { preprocess?: PreprocessOptions; classes?: string[] } = {},
): Promise<Uint8Array> {
  const cfg = model.config,
    { nodes, initializers, tensor, node, conv } = graphBuilder(model);
  const L = layers(cfg);
  let h = 'image';
  const levels: string[] = [];
  for (let li = 0; li < L.encoder.length; li++) {
    if (li > 0) h = node('MaxPool', [h], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]);
    for (const l of L.encoder[li]) h = await conv(h, l);
    levels.push(h);
  }
  const scales = tensor('upsample_scales', [4], new Float32Array([1, 1, 2, 2]));
  for (let bi = 0; bi < L.decoder.length; bi++) {
    // nearest ×2 = pixel duplication: output pixel x reads floor(x / 2)
    const up = node(
      'Resize',
      [h, '', scales],
      [
        attr.string('mode', 'nearest'),
        attr.string('coordinate_transformation_mode', 'asymmetric'),
        attr.string('nearest_mode', 'floor'),
      ],
    );
    h = node('Concat', [await conv(up, L.decoder[bi].up), levels[levels.length - 2 - bi]], [attr.int('axis', 1)]);
    for (const l of L.decoder[bi].convs) h = await conv(h, l);
  }
  for (const l of L.head) h = await conv(h, l);
  h = await conv(h, L.logits);
  nodes[nodes.length - 1].output = ['logits'];

  const info: OnnxModelInfo = { config: cfg, bnEps: model.bnOptions.eps, producer: 'glocal', ...extra };
  return encodeModel(info, nodes, initializers);
}

/** The graph under construction: initializers and nodes, and the helpers that add them (conv: Conv, BN, ReLU). */
function graphBuilder<T>(model: UNet<T>) {
  const be = model.be;
  const slot = new Map(model.params.slots.map((s) => [s.name, s.v.value]));
  const bns = new Map(model.params.batchNorms.map((b) => [b.name, b.state]));
  const host = async (t: T) => Float32Array.from(await be.toHost(t));
  const initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const tensor = (name: string, dims: number[], data: Float32Array) => {
    initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: FLOAT,
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      }),
    );
    return name;
  };
  let n = 0;
  const node = (opType: string, input: string[], attribute: object[] = []) => {
    const out = `${opType.toLowerCase()}_${n++}`;
    nodes.push(onnx.NodeProto.create({ opType, input, output: [out], name: out, attribute }));
    return out;
  };

  const conv = async (x: string, l: ConvLayer): Promise<string> => {
    const w = slot.get(`${l.name}/w`);
    if (!w) throw new Error(`exportOnnx: the model has no parameter ${l.name}/w`);
    const [kh, kw, ci, co] = be.shape(w);
    const inputs = [x, tensor(`${l.name}/w`, [co, ci, kh, kw], hwioToOihw(await host(w), kh, kw, ci, co))];
    if (l.bias) inputs.push(tensor(`${l.name}/b`, [co], await host(slot.get(`${l.name}/b`)!)));
    // TF SAME: 3×3 pads 1 on every side; 2×2 pads 0 before and 1 after (ONNX pads: begins, then ends)
    const pads = l.k === 3 ? [1, 1, 1, 1] : [0, 0, 1, 1];
    let y = node('Conv', inputs, [
      attr.ints('kernel_shape', [kh, kw]),
      attr.ints('pads', pads),
      attr.ints('strides', [1, 1]),
    ]);
    if (l.bn) {
      const s = bns.get(`${l.name}/bn`)!;
      y = node(
        'BatchNormalization',
        [
          y,
          tensor(`${l.name}/bn/gamma`, [co], await host(s.gamma.value)),
          tensor(`${l.name}/bn/beta`, [co], await host(s.beta.value)),
          tensor(`${l.name}/bn/moving_mean`, [co], await host(s.movingMean)),
          tensor(`${l.name}/bn/moving_var`, [co], await host(s.movingVar)),
        ],
        [attr.float('epsilon', model.bnOptions.eps)],
      );
      y = node('Relu', [y]);
    }
    return y;
  };
  return { nodes, initializers, tensor, node, conv };
}

/** The model around the graph: opset, producer (name and glocal's version), metadata and the I/O shapes. */
function encodeModel(
  info: OnnxModelInfo,
  nodes: InstanceType<typeof onnx.NodeProto>[],
  initializers: InstanceType<typeof onnx.TensorProto>[],
): Uint8Array {
  const cfg = info.config;
  const dim = (d: string | number) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  const valueInfo = (name: string, dims: (string | number)[]) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map(dim) } } },
  });
  // the recipe needs the preprocessing; a bare network (no preprocess given) states only the side rule
  const recipe = info.preprocess
    ? [{ key: RECIPE_KEY, value: JSON.stringify(preprocessingRecipe(cfg, info.preprocess, info.classes)) }]
    : [];
  const m = onnx.ModelProto.create({
    irVersion: 8,
    producerName: info.producer,
    producerVersion: GLOCAL_VERSION,
    docString:
      `glocal UNet: image [N, 1, H, W] (H, W multiples of ${sideMultiple(cfg)}) to logits [N, K, H, W]; ` +
      `the preprocessing is in metadata '${RECIPE_KEY}' (docs/onnx_segment.py applies it)`,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    metadataProps: [{ key: 'glocal', value: JSON.stringify(info) }, ...recipe],
    graph: {
      name: 'glocal_unet',
      node: nodes,
      initializer: initializers,
      input: [valueInfo('image', ['batch', cfg.inChannels, 'height', 'width'])],
      output: [valueInfo('logits', ['batch', cfg.numClasses, 'height', 'width'])],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

function decode(bytes: Uint8Array, source: string): InstanceType<typeof onnx.ModelProto> {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxError(source, `not an ONNX model (${(e as Error).message})`);
  }
}

/** The configuration stored in a file written by exportOnnx (to build the UNet it loads into). */
export function onnxModelInfo(bytes: Uint8Array, source: string): OnnxModelInfo {
  const prop = decode(bytes, source).metadataProps.find((p) => p.key === 'glocal');
  if (!prop?.value)
    throw new OnnxError(source, 'no glocal metadata: only ONNX files exported by glocal can be loaded back');
  return JSON.parse(prop.value) as OnnxModelInfo;
}

/** The preprocessing recipe (metadata 'glocal.preprocessing', src/onnx/recipe.ts) of an exported file, parsed. */
export function onnxRecipe(bytes: Uint8Array, source: string): Record<string, any> {
  const prop = decode(bytes, source).metadataProps.find((p) => p.key === RECIPE_KEY);
  if (!prop?.value)
    throw new OnnxError(source, `no '${RECIPE_KEY}' metadata: export the model again with glocal export-onnx`);
  return JSON.parse(prop.value);
}

/** Load weights and batch-norm moving averages from an ONNX file exported by exportOnnx into `model`. */
export function loadOnnxWeights<T>(model: UNet<T>, bytes: Uint8Array, source: string): void {
  const be = model.be,
    byName = new Map((decode(bytes, source).graph?.initializer ?? []).map((t) => [t.name, t]));
  const read = (name: string, want: readonly number[]): Float32Array => {
    const t = byName.get(name);
    if (!t) throw new OnnxError(source, `missing initializer ${name} (is it a model of another configuration?)`);
    const dims = (t.dims ?? []).map((d) => (typeof d === 'number' ? d : d.toNumber())); // int64: a Long when decoded
    if (t.dataType !== FLOAT) throw new OnnxError(source, `initializer ${name} is not float32`);
    if (dims.join() !== want.join())
      throw new OnnxError(source, `initializer ${name} has shape [${dims}], the model needs [${want}]`);
    const raw = t.rawData;
    if (raw?.length) return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    return Float32Array.from(t.floatData ?? []);
  };
  for (const s of model.params.slots) {
    if (s.name.startsWith('g1/') || s.name.startsWith('g2/')) continue; // pre-training heads are never exported
    const shape = be.shape(s.v.value);
    if (shape.length === 4) {
      const [kh, kw, ci, co] = shape;
      be.assign(s.v.value, oihwToHwio(read(s.name, [co, ci, kh, kw]), kh, kw, ci, co));
    } else be.assign(s.v.value, read(s.name, shape));
  }
  for (const b of model.params.batchNorms) {
    if (b.name.startsWith('g2/')) continue;
    const c = be.shape(b.state.movingMean);
    be.assign(b.state.movingMean, read(`${b.name}/moving_mean`, c));
    be.assign(b.state.movingVar, read(`${b.name}/moving_var`, c));
  }
}
