// Runs scripts/repro/deno-exit.ts (a user's Deno script on WebGPU) N times (default 20) and fails unless every run
// exits 0 (issue 27 item 12: Deno has aborted in native teardown after a successful run). After npm run build:
//   node scripts/repro/deno-exit.mjs [N]
import { spawnSync } from 'node:child_process';

const runs = Number(process.argv[2] ?? 20);
const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
delete env.WAYLAND_DISPLAY; // Deno's wgpu probes wayland and prints XDG_RUNTIME_DIR noise otherwise
let failed = 0;
for (let i = 1; i <= runs; i++) {
  const args = ['deno', 'run', '--allow-read', '--allow-env', 'scripts/repro/deno-exit.ts'];
  const r = spawnSync('npx', args, { encoding: 'utf8', env, timeout: 300_000 });
  const ok = r.status === 0;
  if (!ok) failed++;
  const last = `${r.stdout}${r.stderr}`.trim().split('\n').at(-1);
  console.log(`run ${i}: exit ${r.status ?? r.signal}${ok ? '' : ' FAILED'}: ${last}`);
}
console.log(`${runs - failed} of ${runs} runs exited 0`);
process.exit(failed ? 1 : 0);
