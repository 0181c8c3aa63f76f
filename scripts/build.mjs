// Build with esbuild: WGSL is embedded as text, so every runtime runs the same shader source.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, chmodSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';

// 1. AssemblyScript preprocessing -> dist/preprocess.wasm (embedded into the bundles below)
const asc = spawnSync(
  process.execPath,
  [
    'node_modules/assemblyscript/bin/asc.js',
    'kernels/preprocess.ts',
    'kernels/augment.ts',
    'kernels/distance.ts',
    '--config',
    'asconfig.json',
    '--target',
    'release',
  ],
  { stdio: 'inherit' },
);
if (asc.status !== 0) process.exit(asc.status ?? 1);

// 1b. the WebAssembly backend's kernels (kernels/nn/, src/ops/wasm.ts), twice: an unshared imported memory
// (one thread) and a shared one (worker threads). No relaxed SIMD: its results differ between CPUs.
// (kernels/nn/asconfig.json: runtime stub, raw bindings, SIMD, imported memory, -O3; its own config, so that the
// root asconfig.json's preprocessing entries stay out of this module)
const nnFlags = ['--config', 'kernels/nn/asconfig.json'];
for (const [out, extra] of [
  ['dist/nn.wasm', []],
  ['dist/nn-threads.wasm', ['--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536']],
]) {
  const nn = spawnSync(
    process.execPath,
    ['node_modules/assemblyscript/bin/asc.js', ...nnFlags, ...extra, '--outFile', out],
    { stdio: 'inherit' },
  );
  if (nn.status !== 0) process.exit(nn.status ?? 1);
}

// 2. esbuild bundles
const common = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  loader: { '.wgsl': 'text', '.wasm': 'binary' },
  sourcemap: 'linked',
  logLevel: 'warning',
  // dawn.node is loaded at run time in Node only; Deno and browsers use navigator.gpu.
  external: ['webgpu', 'playwright-core', '@tensorflow/*'],
};
// onnxruntime-web: Node loads the package from node_modules (its Node build finds its own .wasm); the other
// bundles include its browser build, which loads ort-wasm-simd-threaded.jsep.wasm next to the bundle (copied below).
const node = {
  ...common,
  platform: 'node',
  external: [...common.external, 'onnxruntime-web'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};
// the commit every experiment result records (a clean clone: the hash; local edits: the hash + '-dirty')
const git = (...a) => spawnSync('git', a, { encoding: 'utf8' });
const head = git('rev-parse', '--short', 'HEAD');
const commit =
  head.status === 0
    ? head.stdout.trim() + (git('status', '--porcelain', '--untracked-files=no').stdout.trim() ? '-dirty' : '')
    : 'unknown';
const tfjsWebgpu = JSON.parse(
  readFileSync('node_modules/@tensorflow/tfjs-backend-webgpu/package.json', 'utf8'),
).version;
// onnxruntime-web stays external (its Node build loads its .wasm from its own folder): without node_modules, as on
// the GPU machine, the benchmark reports its row as not run
const bench = {
  ...node,
  external: ['webgpu', 'onnxruntime-web', 'playwright-core'],
  mainFields: ['module', 'main'],
  define: { __TFJS_WEBGPU_VERSION__: JSON.stringify(tfjsWebgpu) },
};
const neutral = { ...common, platform: 'neutral', mainFields: ['module', 'main'] };

await Promise.all([
  build({ ...neutral, entryPoints: ['src/index.ts'], outfile: 'dist/index.js' }),
  // the browser app and its server
  build({ ...common, platform: 'browser', entryPoints: ['app/main.ts'], outfile: 'dist/app/app.js' }),
  build({ ...node, entryPoints: ['app/serve.ts'], outfile: 'dist/app/serve.js' }),
  build({ ...node, entryPoints: ['test/app-e2e.ts'], outfile: 'dist/test/app-e2e.js' }),
  // the trainer worker (createTrainer({ worker: true }) loads worker.js next to the importing bundle)
  ...['dist', 'dist/test', 'dist/app'].map((dir) =>
    build({ ...neutral, entryPoints: ['src/api/worker.ts'], outfile: `${dir}/worker.js` }),
  ),
  build({
    ...node,
    define: { __GLOCAL_COMMIT__: JSON.stringify(commit) },
    entryPoints: ['src/cli.ts'],
    outfile: 'dist/cli.js',
    banner: { js: `#!/usr/bin/env node\n${node.banner.js}` },
  }),
  build({ ...node, entryPoints: ['test/node.test.ts'], outfile: 'dist/test/node.test.js' }),
  build({ ...neutral, entryPoints: ['test/deno.test.ts'], outfile: 'dist/test/deno.test.js' }),
  build({ ...common, platform: 'browser', entryPoints: ['test/browser.ts'], outfile: 'dist/test/browser.js' }),
  build({ ...node, entryPoints: ['test/browser-runner.ts'], outfile: 'dist/test/browser-runner.js' }),
  // benchmarks bundle tfjs (so dist/bench runs on a machine without node_modules, e.g. the GPU machine)
  ...['kernels', 'model', 'tiles', 'conv3x3'].map((name) =>
    build({ ...bench, entryPoints: [`bench/${name}.ts`], outfile: `dist/bench/${name}.js` }),
  ),
  // neutral: runs in Node and Deno alike
  build({ ...neutral, entryPoints: ['bench/train-loop.ts'], outfile: 'dist/bench/train-loop.js' }),
  build({
    ...common,
    platform: 'browser',
    entryPoints: ['bench/chromium-page.ts'],
    outfile: 'dist/bench/chromium-page.js',
  }),
]);
cpSync('bench/chromium.html', 'dist/bench/chromium.html');
mkdirSync('dist/test', { recursive: true });
cpSync('test/browser.html', 'dist/test/browser.html');
cpSync('app/index.html', 'dist/app/index.html');
for (const dir of ['dist', 'dist/test'])
  for (const f of ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'])
    cpSync(`node_modules/onnxruntime-web/dist/${f}`, `${dir}/${f}`);
chmodSync('dist/cli.js', 0o755); // the `glocal` bin

// 3. type declarations of the library entry (dist/types): relative '.ts' imports become '.js', as published
rmSync('dist/types', { recursive: true, force: true });
const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.types.json'], {
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
for (const f of readdirSync('dist/types', { recursive: true })) {
  if (!String(f).endsWith('.d.ts')) continue;
  const path = `dist/types/${f}`;
  writeFileSync(path, readFileSync(path, 'utf8').replace(/(from\s+'\.{1,2}\/[^']*)\.ts'/g, "$1.js'"));
}
