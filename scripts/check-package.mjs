// The published shape of the package (issue 5): dist/types type-checks a consumer; `import('glocal')` works in
// Node through package.json "exports"; the same bundle works in Deno; both start a trainer worker.
import { spawnSync } from 'node:child_process';

const run = (what, cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, NO_COLOR: '1' } });
  if (r.status !== 0) { console.log(`FAIL: ${what}`); process.exit(1); }
};
run('declarations', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/package/tsconfig.json']);
console.log('types: a consumer of dist/types compiles');
run('node import', process.execPath, ['test/package/import.mjs']);
run('deno import', 'npx', ['deno', 'run', '--allow-read', '--allow-env', '--allow-ffi', 'test/package/import.mjs']);
