// `npm test`: type-check, lint and format check (Biome, biome.jsonc), then the same kernel/network suite in Node,
// Deno and headless Chromium, each timed; then the cross-runtime comparison of the seeded run's loss curve (Node vs
// Deno on one adapter, Chromium reported next to them).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
delete env.WAYLAND_DISPLAY; // Deno's wgpu probes wayland and prints XDG_RUNTIME_DIR noise otherwise
rmSync('dist/test-results', { recursive: true, force: true });

const suites = [
  ['typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['lint', 'npx', ['biome', 'check']],
  ['node', 'node', ['--test', '--test-reporter=spec', 'dist/test/node.test.js']],
  [
    'deno',
    'npx',
    [
      'deno',
      'test',
      '--v8-flags=--expose-gc', // the RSS case collects garbage before each sample
      '--allow-read',
      '--allow-write=dist/test-results',
      '--allow-env',
      '--allow-net=127.0.0.1',
      'dist/test/deno.test.js',
    ],
  ],
  ['chromium', 'node', ['dist/test/browser-runner.js']],
  ['app', 'node', ['dist/test/app-e2e.js']],
  ['package', 'node', ['scripts/check-package.mjs']],
  // a user's Deno script (a seeded 3-step WebGPU training) must exit 0: 20 runs, about 25 s
  ['deno-exit', 'node', ['scripts/deno-exit.mjs', '20']],
];
const times = [];
let failed = false;
for (const [name, cmd, args] of suites) {
  console.log(`\n===== ${name}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  // a runaway GPU kernel (an infinite loop) would otherwise hang CI: 10 minutes per suite at most, 14 for Chromium,
  // whose SwiftShader suite kept both cores busy for 436-519 s in fresh-clone runs (2026-11-27) and
  // would fail on a machine 15% slower under 10 minutes
  const limit = name === 'chromium' ? 840_000 : 600_000;
  const r = spawnSync(cmd, args, { stdio: 'inherit', env, timeout: limit, killSignal: 'SIGKILL' });
  if (r.error) console.log(`${name}: ${r.error.message}`);
  const s = (Date.now() - t0) / 1000;
  // every runner's exit code counts: a crash after passing cases is a failure (issue 27 item 12)
  const ok = r.status === 0;
  times.push([name, s, ok]);
  if (!ok) failed = true;
}

function curve(runtime) {
  try {
    return JSON.parse(readFileSync(`dist/test-results/${runtime}.json`, 'utf8'));
  } catch {
    return null;
  }
}
const [node, deno, chromium] = ['node', 'deno', 'chromium'].map(curve);
console.log('\n===== cross-runtime: the seeded run (paper UNet ×0.05, 32 px, batch 2), Dice loss per step');
if (node?.report?.seededRun && deno?.report?.seededRun) {
  const a = node.report.seededRun,
    b = deno.report.seededRun,
    c = chromium?.report?.seededRun ?? [];
  let worst = 0,
    equal = 0;
  for (let i = 0; i < 20; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.abs(a[i]));
    if (a[i] === b[i]) equal++;
  }
  console.log(`adapters: node = ${node.adapter}; deno = ${deno.adapter}; chromium = ${chromium?.adapter ?? 'n/a'}`);
  console.log('step  node        deno        chromium');
  for (let i = 0; i < 20; i++)
    console.log(`${String(i + 1).padStart(4)}  ${a[i].toFixed(7)}  ${b[i].toFixed(7)}  ${c[i]?.toFixed(7) ?? '-'}`);
  console.log(
    `node vs deno over 20 steps: max relative difference ${worst.toExponential(2)}; bitwise equal on ${equal}/20 steps`,
  );
  if (c.length === 20) {
    const wc = Math.max(...a.map((v, i) => Math.abs(v - c[i]) / Math.abs(v)));
    console.log(
      `node vs chromium (reported, not a gate: another adapter): max relative difference ${wc.toExponential(2)}`,
    );
  }
  if (!(worst < 1e-4)) {
    console.log('FAIL: node and deno differ by more than 1e-4');
    failed = true;
  }
  const fs = chromium?.report?.firstStepLoss;
  if (fs) console.log(`chromium first step vs float64 reference: ${fs.gpu} vs ${fs.reference}`);
} else {
  console.log('FAIL: a loss curve is missing (a runtime did not finish)');
  failed = true;
}

// the wasm backend computes the same bits everywhere (no adapter in between): its seeded run must be bitwise
// equal in the three runtimes, losses and weights (a hash of their float32 bits), or the run fails
console.log('\n===== cross-runtime: the seeded run on the wasm backend, bitwise');
const wasmRuns = [
  ['node', node],
  ['deno', deno],
  ['chromium', chromium],
].map(([name, r]) => [name, r?.report?.seededRunWasm]);
const missingWasm = wasmRuns.filter(([, w]) => !w).map(([name]) => name);
if (missingWasm.length) {
  console.log(`FAIL: the wasm seeded run is missing from ${missingWasm.join(', ')}`);
  failed = true;
} else {
  const [, first] = wasmRuns[0];
  let differs = false;
  for (const [name, w] of wasmRuns) {
    const same =
      w.weights === first.weights && w.losses.length === 20 && w.losses.every((v, i) => Object.is(v, first.losses[i]));
    console.log(
      `${name.padEnd(9)} weights ${w.weights}, last loss ${w.losses[19]}, threads compared ${w.threadsCompared}: ${same ? 'equal to node' : 'DIFFERS from node'}`,
    );
    if (!same) differs = true;
  }
  if (differs) {
    console.log('FAIL: the wasm seeded run differs between runtimes');
    failed = true;
  }
}

console.log('\n===== suite times');
for (const [name, s, ok] of times)
  console.log(`${name.padEnd(10)} ${s.toFixed(1).padStart(7)} s  ${ok ? 'passed' : 'FAILED'}`);
process.exit(failed ? 1 : 0);
