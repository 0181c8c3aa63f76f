// The nn kernels of the WebAssembly backend (src/ops/wasm.ts): one module, compiled twice by scripts/build.mjs,
// into dist/nn.wasm (its memory imported, unshared) and dist/nn-threads.wasm (an imported shared memory that
// worker threads run the same exports on). Nothing here allocates: the host owns every byte of memory above
// heapBase() and passes byte offsets. Parallel kernels take a task range t0…t1; a task's result never
// depends on which thread runs it.

export * from './gemm';
export * from './norm';
export * from './layout';
export * from './elementwise';
export * from './loss';
export * from './winograd';
export * from './winograd-grad';

/** The first byte the host may use (below it: this module's static data, e.g. Mathf's tables). */
export function heapBase(): usize {
  return __heap_base;
}
