// Node runner: node --test dist/test/node.test.js (WebGPU from the npm package `webgpu`, Dawn).
import { test, before, after } from 'node:test';
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { allCases, fileCases } from './suites/index.ts';
import { failureCliCases } from './suites/failures.ts';
import { cliCases } from './suites/cli.ts';
import { CaseSkipped, onnxPythonCases } from './suites/onnx-python.ts';
import { createTestEnv, type TestEnv } from './harness.ts';

let env: TestEnv;
before(async () => {
  env = await createTestEnv();
  console.log(`# adapter: ${env.adapter}`);
});
after(() => {
  const dir = new URL('../test-results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const tmp = new URL('node.json.tmp', dir);
  writeFileSync(tmp, JSON.stringify({ runtime: 'node', adapter: env.adapter, report: env.report }, null, 1));
  renameSync(tmp, new URL('node.json', dir));
  env.rt.destroy();
});

// the glocal CLI is a Node program, and python3 is spawned from here: their cases run here only. A case that
// cannot run here (CaseSkipped) is reported as skipped with its reason, never as passed.
for (const c of [...allCases, ...fileCases, ...failureCliCases, ...cliCases, ...onnxPythonCases])
  test(c.name, async (t) => {
    try {
      await c.run(env);
    } catch (e) {
      if (!(e instanceof CaseSkipped)) throw e;
      t.skip(e.message);
    }
  });

test('dawn.node works inside a worker_threads worker', async () => {
  const src = `
    const { parentPort } = require('node:worker_threads');
    (async () => {
      const { create, globals } = await import('webgpu');
      Object.assign(globalThis, globals);
      const gpu = create([]);
      const adapter = await gpu.requestAdapter();
      const device = await adapter.requestDevice();
      const code = '@group(0) @binding(0) var<storage, read_write> a: array<f32>; @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { a[g.x] = f32(g.x) * 2.0; }';
      const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
      const buf = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      const read = device.createBuffer({ size: 256, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] }));
      pass.dispatchWorkgroups(1);
      pass.end();
      enc.copyBufferToBuffer(buf, 0, read, 0, 256);
      device.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const v = Array.from(new Float32Array(read.getMappedRange())).slice(0, 4);
      device.destroy();
      parentPort.postMessage({ v });
    })().catch((e) => parentPort.postMessage({ error: String(e) }));`;
  const w = new Worker(src, { eval: true });
  const msg: any = await new Promise((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  await w.terminate();
  if (msg.error) throw new Error(msg.error);
  if (msg.v.join() !== '0,2,4,6') throw new Error(`worker computed ${msg.v}`);
});
