// The op table of element-wise ops: each op is one entry holding both backends' kernels (a WGSL expression and
// the name of its kernels/nn export), its float64 reference, its gradient and its test shapes. The backends
// (webgpu.ts, wasm.ts, reference.ts), the autodiff op `unary` and the kernel suite all read this table, so a new
// element-wise op is this entry plus its AssemblyScript kernels (kernels/nn/elementwise.ts).
//
// Gradients are taken from the op's output: the backward kernel sees y = f(x) and dy (as ReLU's always has), so
// the tape keeps y alone. An op whose gradient cannot be written in y does not belong in this table.

import { type KernelDecl, type UniformType, kernel } from '../runtime/wgsl-kernel.ts';
import unaryWgsl from '../../wgsl/unary.wgsl';
import unaryGradWgsl from '../../wgsl/unary_grad.wgsl';

/**
 * The element-wise ops and their attributes (uniforms the expressions read as `u.<name>`). The table below is
 * typed over these names: an op without an entry, or an entry without one of its parts, does not compile.
 */
export interface UnaryAttrs {
  relu: Record<never, UniformType>;
  leakyRelu: { alpha: 'f32' };
}

export type UnaryName = keyof UnaryAttrs;
/** An op's attribute values, by name. */
export type UnaryAttrValues<P extends UnaryName> = { [A in keyof UnaryAttrs[P]]: number };

export interface UnaryEntry<P extends UnaryName> {
  attrs: UnaryAttrs[P];
  /** WGSL: the output from an f32 `x`. */
  wgsl: string;
  /** WGSL: dx from the output `y` and its gradient `dy`. */
  wgslGrad: string;
  /** kernels/nn exports: forward(x, n, y, ...attrs, t0, t1) and grad(y, dy, n, dx, ...attrs, t0, t1). */
  wasm: { forward: string; grad: string };
  /** The float64 reference of one element, and of its gradient. */
  reference(x: number, a: UnaryAttrValues<P>): number;
  referenceGrad(y: number, dy: number, a: UnaryAttrValues<P>): number;
  /** The kernel suite's shapes (each on both backends, against the reference), and the attributes they use. */
  tests: { shapes: number[][]; attrs: UnaryAttrValues<P> };
}

export const UNARY: { [P in UnaryName]: UnaryEntry<P> } = {
  relu: {
    attrs: {},
    // NaN kept: max() may drop a NaN, which would hide a diverged run behind a finite loss
    wgsl: 'select(x, 0.0, x < 0.0)',
    wgslGrad: 'select(0.0, dy, y > 0.0)',
    wasm: { forward: 'relu', grad: 'reluBackward' },
    reference: (x) => Math.max(x, 0),
    referenceGrad: (y, dy) => (y > 0 ? dy : 0),
    tests: {
      shapes: [
        [2, 4, 6, 3],
        [3, 7, 5, 9],
      ],
      attrs: {},
    },
  },
  leakyRelu: {
    attrs: { alpha: 'f32' },
    // from the output: with alpha > 0, y > 0 exactly where x > 0
    wgsl: 'select(u.alpha * x, x, x > 0.0)',
    wgslGrad: 'select(u.alpha * dy, dy, y > 0.0)',
    wasm: { forward: 'leakyRelu', grad: 'leakyReluBackward' },
    reference: (x, a) => (x > 0 ? x : a.alpha * x),
    referenceGrad: (y, dy, a) => (y > 0 ? dy : a.alpha * dy),
    tests: {
      shapes: [
        [2, 5, 3, 4],
        [1, 9, 7, 5],
      ],
      attrs: { alpha: 0.1 },
    },
  },
};

export const unaryNames = Object.keys(UNARY) as UnaryName[];

/** Attribute values in the entry's declaration order (the wasm kernels' argument order). */
export function attrList<P extends UnaryName>(op: P, a: UnaryAttrValues<P>): number[] {
  return Object.keys(UNARY[op].attrs).map((k) => (a as Record<string, number>)[k]);
}

export interface UnaryKernels {
  forward: KernelDecl;
  grad: KernelDecl;
}

const kernels = new Map<UnaryName, UnaryKernels>();

/** An op's WGSL kernels: the shared templates (wgsl/unary*.wgsl) around the entry's expressions. */
export function unaryKernels(op: UnaryName): UnaryKernels {
  let k = kernels.get(op);
  if (k) return k;
  const e: UnaryEntry<UnaryName> = UNARY[op],
    uniforms = { n: 'u32', ...e.attrs } as Record<string, UniformType>;
  k = {
    forward: kernel(op, {
      uniforms,
      bindings: { x: 'read', y: 'rw' },
      wgsl: `fn op(x: f32) -> f32 { return ${e.wgsl}; }\n${unaryWgsl}`,
    }),
    grad: kernel(`${op}_backward`, {
      uniforms,
      bindings: { y: 'read', dy: 'read', dx: 'rw' },
      wgsl: `fn grad(y: f32, dy: f32) -> f32 { return ${e.wgslGrad}; }\n${unaryGradWgsl}`,
    }),
  };
  kernels.set(op, k);
  return k;
}
