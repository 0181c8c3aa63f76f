// A user's Deno script must exit 0 after a successful run (issue 27 item 12). Runs scripts/repro/deno-exit.ts (a
// seeded 3-step training on WebGPU, about 1 s) N times (default 20), alternately with `deno run` and `deno test`
// (there the module runs on a thread of its own, which ends as the process exits: the path where Deno aborted in
// libEGL's teardown). Fails unless every run exits 0 with the same losses, and, on Linux, with glocal having
// chosen wgpu's Vulkan backend (src/runtime/device.ts: the avoidance of that abort). After npm run build:
//   node scripts/deno-exit.mjs [N]
import { spawnSync } from 'node:child_process';

const runs = Number(process.argv[2] ?? 20);
const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
delete env.WAYLAND_DISPLAY; // Deno's wgpu probes wayland and prints XDG_RUNTIME_DIR noise otherwise
const userChoice = env.DENO_WEBGPU_BACKEND; // a backend chosen by whoever runs this is left alone, and so expected
const wantBackend = userChoice ?? (process.platform === 'linux' ? 'vulkan' : 'all');
let failed = 0,
  first;
for (let i = 1; i <= runs; i++) {
  const how = i % 2 ? 'run' : 'test';
  const args = ['deno', how, '--allow-all', 'scripts/repro/deno-exit.ts']; // all: /proc/self/maps needs it
  const r = spawnSync('npx', args, { encoding: 'utf8', env, timeout: 120_000 });
  const line = `${r.stdout}`.split('\n').find((l) => l.startsWith('backend ')) ?? '(no result line)';
  first ??= line;
  const problems = [];
  if (r.status !== 0)
    problems.push(`exit ${r.status ?? r.signal}: ${`${r.stderr}`.trim().split('\n').slice(-3).join(' | ')}`);
  if (line !== first) problems.push(`printed '${line}', the first run '${first}'`);
  if (!line.startsWith(`backend ${wantBackend};`)) problems.push(`expected backend ${wantBackend}`);
  // with glocal's choice on Linux, libEGL (whose teardown aborted) must stay out of the process
  if (!userChoice && process.platform === 'linux' && !line.includes('libEGL not loaded'))
    problems.push('libEGL loaded');
  if (problems.length) failed++;
  console.log(`run ${i} (deno ${how}): ${line}${problems.length ? ` FAILED: ${problems.join('; ')}` : ''}`);
}
console.log(`${runs - failed} of ${runs} runs exited 0 with the same losses`);
process.exit(failed ? 1 : 0);
