// One declaration per WGSL kernel: its body, its named uniforms and its named storage bindings. The declaration
// generates the `struct P` / `@binding` header the body is compiled with, the bind-group layout, and the uniform
// packing on the host, so a kernel's interface is written once and the host cannot pass fields out of order.

import prelude from '../../wgsl/prelude.wgsl';

/** A uniform field: every field is one 32-bit word, so the struct's layout is its declaration order. */
export type UniformType = 'u32' | 'i32' | 'f32';
/** A storage binding: read-only or read-write, of f32 unless `:u32` says otherwise. */
export type Access = 'read' | 'rw' | 'read:u32' | 'rw:u32';

export type Uniforms = Record<string, UniformType>;
export type Bindings = Record<string, Access>;

export interface KernelDecl<U extends Uniforms = Uniforms, B extends Bindings = Bindings> {
  /** The kernel's name in pipeline labels and caches. */
  readonly name: string;
  readonly uniforms: U;
  /** Storage bindings 1..n in this order (binding 0 is the uniform block `u`). */
  readonly bindings: B;
  /** WGSL after the generated header: helper sources first (shared by several kernels), then the body. */
  readonly body: string;
  /** Threads per workgroup of a 1-D kernel (the runtime's grid for `threads`); 256 unless said. */
  readonly workgroupSize?: number;
}

/** A kernel's uniform values, by name. */
export type UniformValues<K> = K extends KernelDecl<infer U, Bindings> ? { [F in keyof U]: number } : never;
/** A kernel's storage tensors, by name. */
export type BindingValues<K, T> = K extends KernelDecl<Uniforms, infer B> ? { [F in keyof B]: T } : never;

interface KernelSource<U extends Uniforms, B extends Bindings> {
  uniforms: U;
  bindings: B;
  /** The kernel's own WGSL (no struct or bindings: those are generated). */
  wgsl: string;
  /** WGSL helper files the body calls, placed before it; the prelude's index helpers are always there. */
  uses?: string[];
  workgroupSize?: number;
}

/** Declare a kernel (the `const` type parameters keep field names and types literal for the typed dispatch). */
export function kernel<const U extends Uniforms, const B extends Bindings>(
  name: string,
  k: KernelSource<U, B>,
): KernelDecl<U, B> {
  return {
    name,
    uniforms: k.uniforms,
    bindings: k.bindings,
    workgroupSize: k.workgroupSize,
    body: [prelude, ...(k.uses ?? []), k.wgsl].join('\n'),
  };
}

/** The uniform struct and binding declarations of a kernel, as WGSL. */
export function wgslHeader(k: KernelDecl): string {
  const fields = Object.entries(k.uniforms)
    .map(([f, t]) => `${f}: ${t}`)
    .join(', ');
  const lines = [`struct P { ${fields} }`, '@group(0) @binding(0) var<uniform> u: P;'];
  Object.entries(k.bindings).forEach(([b, access], i) => {
    const [mode, elem] = access.split(':');
    const storage = mode === 'read' ? 'read' : 'read_write';
    lines.push(`@group(0) @binding(${i + 1}) var<storage, ${storage}> ${b}: array<${elem ?? 'f32'}>;`);
  });
  return lines.join('\n');
}

/** The full WGSL of a kernel: header, helpers, body. */
export function wgslSource(k: KernelDecl): string {
  return `${wgslHeader(k)}\n${k.body}`;
}

/** Storage binding modes in binding order (the pipeline layout's entries 1..n). */
export function storageModes(k: KernelDecl): ('read' | 'rw')[] {
  return Object.values(k.bindings).map((a) => (a.startsWith('read') ? 'read' : 'rw'));
}

/** The uniform block's bytes in declaration order (a multiple of 16, at least 16: WGSL's uniform rules). */
export class UniformBlock {
  constructor(
    private readonly types: UniformType[],
    private readonly words: number[],
  ) {}
  writeTo(view: DataView, byteOffset: number): number {
    this.words.forEach((v, k) => {
      const o = byteOffset + 4 * k,
        t = this.types[k];
      if (t === 'f32') view.setFloat32(o, v, true);
      else if (t === 'i32') view.setInt32(o, v | 0, true);
      else view.setUint32(o, v >>> 0, true);
    });
    return this.words.length * 4;
  }
  get byteLength(): number {
    return Math.max(16, Math.ceil(this.words.length / 4) * 16);
  }
}

/** Pack named uniform values in the declaration's order; a missing or extra name is an error. */
export function packUniforms<K extends KernelDecl>(k: K, values: UniformValues<K>): UniformBlock {
  const names = Object.keys(k.uniforms),
    given = values as Record<string, number>;
  const extra = Object.keys(given).filter((n) => !(n in k.uniforms));
  const missing = names.filter((n) => typeof given[n] !== 'number');
  if (extra.length || missing.length) {
    const what = [missing.length ? `missing ${missing}` : '', extra.length ? `unknown ${extra}` : ''].join(' ');
    throw new Error(`kernel ${k.name}: uniforms ${what}`);
  }
  return new UniformBlock(
    names.map((n) => k.uniforms[n]),
    names.map((n) => given[n]),
  );
}

/** Named tensors in binding order. */
export function orderBindings<K extends KernelDecl, T>(k: K, values: BindingValues<K, T>): T[] {
  const given = values as Record<string, T>;
  return Object.keys(k.bindings).map((b) => {
    if (given[b] === undefined) throw new Error(`kernel ${k.name}: no tensor for binding ${b}`);
    return given[b];
  });
}
