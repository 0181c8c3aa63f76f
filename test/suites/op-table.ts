// The op table (src/ops/primitives.ts): what the compiler refuses, and what only the built module can tell.

import { type TestCase, assert } from '../harness.ts';
import { NN_KERNELS, type OpEntry, PRIMITIVES, primitiveNames } from '../../src/ops/primitives.ts';
import { RefBackend } from '../../src/ops/reference.ts';
import { UNARY, unaryNames } from '../../src/ops/table.ts';
import { WGSL } from '../../src/runtime/wgsl-registry.ts';
import nnWasm from '../../dist/nn.wasm';

// tsc checks these lines (npm run typecheck): each must fail to compile, or the directive itself is an error.
const { conv2d: _dropped, ...withoutConv2d } = PRIMITIVES;
// @ts-expect-error a Backend op without an entry
export const missingOp: typeof PRIMITIVES = withoutConv2d;
// @ts-expect-error an entry without its gradient part (neither a rule nor grad: null with a reason)
export const missingGrad: OpEntry<'upsample2'> = {
  webgpu: [WGSL.upsample],
  wasm: ['upsample2'],
  reference: RefBackend.prototype.upsample2,
  tests: { with: 'upsample2' },
};
export const typoWasm: OpEntry<'upsample2'> = {
  webgpu: [WGSL.upsample],
  // @ts-expect-error a kernels/nn export that does not exist
  wasm: ['upsampel2'],
  reference: RefBackend.prototype.upsample2,
  grad: null,
  noGrad: 'a typo test',
  tests: { with: 'upsample2' },
};
export const wrongArgs: OpEntry<'maxPool2'>['tests'] = {
  // @ts-expect-error test arguments that the op does not take (a number where it takes a tensor)
  cases: [{ label: 'x', args: [3] }],
};

export const opTableCases: TestCase[] = [
  {
    name: 'op table: every kernels/nn export it names is in the module, every WGSL kernel belongs to an op',
    async run() {
      const exported = new Set(
        WebAssembly.Module.exports(new WebAssembly.Module(nnWasm as BufferSource)).map((e) => e.name),
      );
      const named = [...NN_KERNELS, ...unaryNames.flatMap((op) => [UNARY[op].wasm.forward, UNARY[op].wasm.grad])];
      const absent = named.filter((n) => !exported.has(n));
      assert(absent.length === 0, `named but not exported by dist/nn.wasm: ${absent}`);
      const used = new Set(primitiveNames.flatMap((op) => PRIMITIVES[op].webgpu.map((k) => k.name)));
      const orphans = Object.values(WGSL).filter((k) => !used.has(k.name));
      assert(orphans.length === 0, `WGSL kernels no op names: ${orphans.map((k) => k.name)}`);
      const untested = primitiveNames.filter((op) => {
        const t = PRIMITIVES[op].tests;
        return 'with' in t && !('cases' in PRIMITIVES[t.with].tests);
      });
      assert(untested.length === 0, `ops checked 'with' an op that has no cases: ${untested}`);
    },
  },
];
