// The published shape of the package (issue 5): dist/types type-checks a consumer; `import('glocal')` works in
// Node through package.json "exports"; `npm:glocal` works in Deno (a temporary project whose node_modules links
// the package); both start a trainer worker.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const run = (what, cmd, args, cwd) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd, env: { ...process.env, NO_COLOR: '1' } });
  if (r.status !== 0) { console.log(`FAIL: ${what}`); process.exit(1); }
};
run('declarations', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/package/tsconfig.json']);
console.log('types: a consumer of dist/types compiles');
run('node import', process.execPath, ['test/package/import.mjs']);
const project = mkdtempSync(join(tmpdir(), 'glocal-deno-'));
try {
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(resolve('.'), join(project, 'node_modules', 'glocal'), 'dir');
  writeFileSync(join(project, 'deno.json'), JSON.stringify({ nodeModulesDir: 'manual' }));
  copyFileSync('test/package/import.mjs', join(project, 'import.mjs'));
  run('deno npm: import', resolve('node_modules/.bin/deno'), ['run', '--allow-read', '--allow-env', '--allow-ffi', 'import.mjs'], project);
} finally {
  rmSync(project, { recursive: true, force: true });
}

// the CLI never writes over its inputs: an --out that names an input is refused before anything is read
for (const args of [['segment', 'scan.nii.gz', '--model', 'm.safetensors', '--out', 'scan.nii.gz'], ['export-onnx', '--model', 'm.onnx', '--out', 'm.onnx']]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (r.status === 0 || !r.stderr.includes('glocal never writes over its inputs')) {
    console.log(`FAIL: glocal ${args.join(' ')} should refuse to write over its input:\n${r.stderr}`);
    process.exit(1);
  }
}
console.log('cli: an --out naming an input is refused');
