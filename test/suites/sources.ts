// Static checks on the WGSL text every runtime runs.

import { type TestCase, assert } from '../harness.ts';
import { WGSL_SOURCES } from '../../src/runtime/wgsl-registry.ts';

export const sourceCases: TestCase[] = [
  {
    name: 'wgsl: no atomics anywhere (reductions use fixed orders)',
    async run() {
      const names = Object.keys(WGSL_SOURCES);
      assert(names.length >= 30, `only ${names.length} WGSL sources embedded`);
      for (const n of names) assert(!/atomic/i.test(WGSL_SOURCES[n]), `${n}.wgsl mentions atomics`);
    },
  },
  {
    name: 'wgsl: every kernel compiles into a pipeline on this adapter',
    async run(env) {
      const { gemmTile } = await import('../../src/ops/webgpu.ts');
      const errors: string[] = [];
      env.rt.device.pushErrorScope('validation');
      // one value of each kernel's specialisation constants (the kernel tests run the others)
      const specs: Record<string, Record<string, number | boolean>> = {
        matmul: { ...gemmTile(256, 64, 64, 256, 4), TRANS_A: false, TRANS_B: false },
        conv2d_forward: { ...gemmTile(256, 64, 64, 256, 4), BNRELU: true },
        conv2d_direct: { OG: 4, TRANSPOSED: true, STAGED: true, KH: 3, KW: 3, CRED1: false },
        conv2d_weight_grad_direct: { CG: 1 },
        reduce_chunks: { WIDE: true, SPLIT: true },
        bn_finalize: { WIDE: true },
        bn_apply: { RELU: true, INFER: true },
        bn_grad_sums: { RELU: true },
        bn_backward: { RELU: true },
      };
      const { PRIMITIVES, primitiveNames } = await import('../../src/ops/primitives.ts');
      const maxStorage = env.rt.gpu.limits.maxStorageBuffersPerShaderStage;
      // every op's kernels, the element-wise ops' included (the op-table case checks that no kernel is left out)
      for (const k of new Set(primitiveNames.flatMap((op) => PRIMITIVES[op].webgpu))) {
        // a kernel with more storage bindings than the device allows (adam4: 16) is never chosen there
        if (Object.keys(k.bindings).length > maxStorage) continue;
        const spec = specs[k.name] ?? (k.body.includes('fn loadA4') ? gemmTile(256, 64, 64, 256, 4) : {});
        (env.rt as any).pipelineFor(k, spec);
      }
      const err = await env.rt.device.popErrorScope();
      if (err) errors.push(err.message);
      assert(errors.length === 0, errors.join('\n'));
    },
  },
];
