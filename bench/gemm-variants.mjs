// Barrier-free GEMM variants against glocal's own matmul on one adapter (a test of whether a CPU adapter, where
// workgroup barriers and gathers are costly, runs a kernel without workgroup memory faster): C = A·B, f32.
//   npm run build && node bench/gemm-variants.mjs [M,N,K]        (default 512,512,512; bench/NOTES.md §6)
// rows: lanes over columns of C, R rows of C per workgroup (their A values are the same in every lane), each
// lane's accumulators in locals; 'vec4' lanes take 4 columns (vec4 loads of B); 'vec4 k4' also unrolls k by 4
// and reads A as vec4 along k. Each result is checked against an f64 product.
const g = await import('../dist/index.js');
const rt = await g.Runtime.create(), be = new g.GpuBackend(rt), device = rt.gpu.device;
const [M, N, K] = (process.argv[2] ?? '512,512,512').split(',').map(Number);
if (N % 4 || K % 4) throw new Error('N and K must be multiples of 4');
const A = new Float32Array(M * K).map((_, i) => Math.sin(i) / 2), B = new Float32Array(K * N).map((_, i) => Math.cos(i) / 2);
const ref = new Float64Array(M * N);
for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) { const a = A[m * K + k]; for (let n = 0; n < N; n++) ref[m * N + n] += a * B[k * N + n]; }
const maxErr = (c) => c.reduce((e, v, i) => Math.max(e, Math.abs(v - ref[i])), 0);
const report = (name, ms, err) => console.log(`${name.padEnd(22)} ${ms.toFixed(1).padStart(8)} ms ${(2 * M * N * K / ms / 1e6).toFixed(1).padStart(7)} GFLOP/s  max error ${err.toExponential(1)}`);
console.log(`${rt.gpu.info.description}; C[${M}×${N}] = A[${M}×${K}]·B[${K}×${N}], mean of 5 after a warm-up`);

// glocal's matmul (the tiled GEMM core, or the direct kernel a CPU adapter picks)
const a = be.fromHost(A, [M, K]), b = be.fromHost(B, [K, N]);
let c = be.matmul(a, b, false, false);
const err0 = maxErr(await be.toHost(c));
let t0 = performance.now();
for (let i = 0; i < 5; i++) { be.release(c); c = be.matmul(a, b, false, false); await rt.sync(); }
report('glocal matmul', (performance.now() - t0) / 5, err0);

const storage = (data) => { const buf = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }); device.queue.writeBuffer(buf, 0, data); return buf; };
const bA = storage(A), bB = storage(B);
const bC = device.createBuffer({ size: M * N * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
const readBack = device.createBuffer({ size: M * N * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const rows = (R, f) => Array.from({ length: R }, (_, r) => f(r)).join('\n  ');
const header = (aType, bType) => `@group(0) @binding(0) var<storage, read> A: array<${aType}>;
@group(0) @binding(1) var<storage, read> B: array<${bType}>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
const M = ${M}u; const N = ${N}u; const K = ${K}u;`;
const store4 = (r) => `for (var j = 0u; j < 4u; j++) { C[(m0 + ${r}u) * N + n4 * 4u + j] = c${r}[j]; }`;
const variants = {
  scalar: (R) => ({ groups: [N / 64, Math.ceil(M / R)], code: `${header('f32', 'f32')}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let n = gid.x; let m0 = wid.y * ${R}u;
  ${rows(R, (r) => `var c${r} = 0.0;`)}
  for (var k = 0u; k < K; k++) {
    let b = B[k * N + n];
    ${rows(R, (r) => `c${r} = fma(A[(m0 + ${r}u) * K + k], b, c${r});`)}
  }
  ${rows(R, (r) => `C[(m0 + ${r}u) * N + n] = c${r};`)}
}` }),
  vec4: (R) => ({ groups: [N / 4 / 16, Math.ceil(M / R)], code: `${header('f32', 'vec4f')}
@compute @workgroup_size(16)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let n4 = gid.x; let m0 = wid.y * ${R}u;
  ${rows(R, (r) => `var c${r} = vec4f(0.0);`)}
  for (var k = 0u; k < K; k++) {
    let b = B[k * (N / 4u) + n4];
    ${rows(R, (r) => `c${r} = fma(vec4f(A[(m0 + ${r}u) * K + k]), b, c${r});`)}
  }
  ${rows(R, store4)}
}` }),
  'vec4 k4': (R) => ({ groups: [N / 4 / 16, Math.ceil(M / R)], code: `${header('vec4f', 'vec4f')}
@compute @workgroup_size(16)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let n4 = gid.x; let m0 = wid.y * ${R}u; let N4 = N / 4u;
  ${rows(R, (r) => `var c${r} = vec4f(0.0);`)}
  for (var k4 = 0u; k4 < K / 4u; k4++) {
    let b0 = B[4u * k4 * N4 + n4]; let b1 = B[(4u * k4 + 1u) * N4 + n4]; let b2 = B[(4u * k4 + 2u) * N4 + n4]; let b3 = B[(4u * k4 + 3u) * N4 + n4];
    ${rows(R, (r) => `{ let a = A[(m0 + ${r}u) * (K / 4u) + k4]; c${r} = fma(vec4f(a.x), b0, c${r}); c${r} = fma(vec4f(a.y), b1, c${r}); c${r} = fma(vec4f(a.z), b2, c${r}); c${r} = fma(vec4f(a.w), b3, c${r}); }`)}
  }
  ${rows(R, store4)}
}` }),
};
for (const [name, make] of Object.entries(variants)) for (const R of [4, 8]) {
  if (M % R) continue;
  const { code, groups } = make(R);
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [bA, bB, bC].map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const once = async (read) => {
    const enc = device.createCommandEncoder(), pass = enc.beginComputePass();
    pass.setPipeline(pipeline); pass.setBindGroup(0, bind); pass.dispatchWorkgroups(groups[0], groups[1]); pass.end();
    if (read) enc.copyBufferToBuffer(bC, 0, readBack, 0, M * N * 4);
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await once(true);
  await readBack.mapAsync(GPUMapMode.READ);
  const err = maxErr(new Float32Array(readBack.getMappedRange().slice(0)));
  readBack.unmap();
  t0 = performance.now();
  for (let i = 0; i < 5; i++) await once(false);
  report(`${name}, R ${R}`, (performance.now() - t0) / 5, err);
}
process.exit(0);
