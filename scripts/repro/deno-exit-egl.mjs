// Runs scripts/repro/deno-exit-egl.test.ts N times (default 400, about 0.2 s a run) and counts the exit codes:
//   node scripts/repro/deno-exit-egl.mjs [N]      (DESTROY=1: the test destroys its device; DENO_WEBGPU_BACKEND: passed on)
import { spawnSync } from 'node:child_process';

const runs = Number(process.argv[2] ?? 400);
const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
delete env.WAYLAND_DISPLAY; // Deno's wgpu probes wayland and prints XDG_RUNTIME_DIR noise otherwise
const codes = new Map();
for (let i = 1; i <= runs; i++) {
  const args = ['test', '--no-check', '--allow-env', 'scripts/repro/deno-exit-egl.test.ts'];
  const r = spawnSync('node_modules/.bin/deno', args, { encoding: 'utf8', env, timeout: 60_000 });
  const code = r.status ?? r.signal;
  codes.set(code, (codes.get(code) ?? 0) + 1);
  if (code !== 0) console.log(`run ${i}: exit ${code}: ${`${r.stderr}`.trim().split('\n').at(-1)}`);
}
const backend = env.DENO_WEBGPU_BACKEND ?? '(all)';
console.log(`DENO_WEBGPU_BACKEND=${backend}, DESTROY=${env.DESTROY ?? '0'}: ${runs} runs, exit codes ${JSON.stringify(Object.fromEntries(codes))}`);
