// The package as a user gets it (issues 5 and 28): scripts/pack.mjs stages it, `npm pack` packs it, and a consumer
// folder with only that tarball installed (npm install --engine-strict: every dependency supports our Node floor)
// type-checks against its declarations with skipLibCheck off, imports it in Node and in Deno (npm:), runs README's
// library example as written, and bundles a page with esbuild and with Vite that trains and segments in Chromium.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { STAGE, stagePackage } from './pack.mjs';
import { runReadmeExamples } from './package/readme.mjs';
import { checkBundledPages } from './package/bundle.mjs';

// ship only what users run (issue 28 item 5: 117 MB with source maps, dist/test, dist/bench and stale files)
const UNPACKED_BUDGET = 35e6;
const DEVELOPMENT_ONLY = ['scripts', 'devDependencies', 'allowScripts', 'private'];

const fail = (why) => {
  console.log(`FAIL: ${why}`);
  process.exit(1);
};
const run = (what, cmd, args, cwd) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd, env: { ...process.env, NO_COLOR: '1' } });
  if (r.status !== 0) fail(what);
};
/** The command's standard output; a failure ends the check. */
const output = (what, cmd, args, cwd) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd, maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`${what}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

/** Stages and packs the package into `dir`; checks the tarball's size, its files and its manifest. */
function packAndCheck(dir) {
  stagePackage();
  const [info] = JSON.parse(output('npm pack', 'npm', ['pack', `./${STAGE}`, '--json', '--pack-destination', dir]));
  const tarball = join(dir, info.filename);
  if (info.unpackedSize > UNPACKED_BUDGET) {
    fail(`the package unpacks to ${info.unpackedSize} bytes, over ${UNPACKED_BUDGET}`);
  }
  const extra = info.files.map((f) => f.path).filter((p) => /\.map$|^dist\/(test|bench|app)\//.test(p));
  if (extra.length) fail(`the tarball ships files users do not run: ${extra.join(', ')}`);
  const manifest = JSON.parse(output('tar', 'tar', ['-xzOf', tarball, 'package/package.json']));
  const left = DEVELOPMENT_ONLY.filter((k) => k in manifest);
  if (left.length) fail(`the published manifest still has ${left.join(', ')}`);
  console.log(
    `tarball: ${info.filename}, ${(info.unpackedSize / 1e6).toFixed(1)} MB unpacked (budget ` +
      `${UNPACKED_BUDGET / 1e6} MB), ${info.entryCount} files, no source maps; manifest without ` +
      DEVELOPMENT_ONLY.join(', '),
  );
  return { tarball, manifest };
}

/** README and the Deno example name the package as published (issue 28 item 3: `glocal` on npm is someone else's). */
function checkName(name) {
  const readme = readFileSync('README.md', 'utf8');
  if (!readme.includes(`from '${name}'`) || !readme.includes(`npm:${name}`)) {
    fail(`README does not import '${name}' (Node and npm:)`);
  }
  const stale = readme.match(/from 'glocal'|npm:glocal\b/);
  if (stale) fail(`README still names the unpublished package: ${stale[0]}`);
  console.log(`name: ${name}; README imports it in Node and as npm:${name} in Deno`);
}

/** A consumer folder with the tarball installed (from the registry's cache), as in a user's project. */
function installConsumer(project, tarball, manifest) {
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // --engine-strict: a dependency that needs a newer Node than ours fails the install (issue 28 item 6)
  run(
    'npm install of the tarball',
    'npm',
    ['install', '--engine-strict', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball],
    project,
  );
  console.log(
    `install: only the tarball, --engine-strict on Node ${process.version} ` +
      `(engines: node ${manifest.engines.node})`,
  );
}

/** The declarations compile in the consumer with skipLibCheck off, under a bundler's and Node's module resolution. */
function checkTypes(project, name) {
  const source = readFileSync('test/package/consumer.ts', 'utf8');
  if (!source.includes(`from '${name}'`)) fail(`test/package/consumer.ts does not import '${name}'`);
  writeFileSync(join(project, 'consumer.ts'), source);
  for (const resolution of ['Bundler', 'NodeNext']) {
    const module = resolution === 'Bundler' ? 'ESNext' : 'NodeNext';
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module,
          moduleResolution: resolution,
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          lib: ['ES2022', 'DOM'],
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = resolve('node_modules/typescript/bin/tsc');
    run(`declarations (${resolution})`, process.execPath, [tsc, '-p', 'tsconfig.json'], project);
  }
  console.log(
    'types: a consumer compiles against the installed declarations ' +
      '(skipLibCheck false, types [], Bundler and NodeNext)',
  );
}

const work = mkdtempSync(join(tmpdir(), 'glocal-package-'));
try {
  const { tarball, manifest } = packAndCheck(work);
  checkName(manifest.name);
  const project = join(work, 'consumer');
  mkdirSync(project);
  installConsumer(project, tarball, manifest);
  checkTypes(project, manifest.name);
  copyFileSync('test/package/import.mjs', join(project, 'import.mjs'));
  run('node import', process.execPath, ['import.mjs'], project);
  writeFileSync(join(project, 'deno.json'), JSON.stringify({ nodeModulesDir: 'manual' }));
  const denoArgs = ['run', '--allow-read', '--allow-env', '--allow-ffi', 'import.mjs'];
  run('deno npm: import', resolve('node_modules/.bin/deno'), denoArgs, project);
  await runReadmeExamples(project, manifest.name);
  await checkBundledPages(project);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// the CLI never writes over its inputs: an --out that names an input is refused before anything is read
const overwrites = [
  ['segment', 'scan.nii.gz', '--model', 'm.safetensors', '--out', 'scan.nii.gz'],
  ['export-onnx', '--model', 'm.onnx', '--out', 'm.onnx'],
];
for (const args of overwrites) {
  const env = { ...process.env, NO_COLOR: '1' };
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env });
  if (r.status === 0 || !r.stderr.includes('glocal never writes over its inputs')) {
    fail(`glocal ${args.join(' ')} should refuse to write over its input:\n${r.stderr}`);
  }
}
console.log('cli: an --out naming an input is refused');
const version = output('glocal --version', process.execPath, ['dist/cli.js', '--version']).trim();
const packageVersion = JSON.parse(readFileSync('package.json', 'utf8')).version;
if (version !== packageVersion) fail(`glocal --version printed '${version}', package.json says ${packageVersion}`);
console.log(`cli: glocal --version prints ${version}`);
