// The redesign's invariant (issue 26): seeded runs give the same bits before and after. Runs a seeded
// `glocal train`, `glocal pretrain` (a global and a local stage) and a smoke `glocal experiment` on both backends
// (webgpu: the adapter at hand, lavapipe here; wasm: 1 thread, its 3×3 convolutions by the default `auto`, by
// Winograd everywhere, `wasm-winograd`, whose hashes are those of wasm runs from Winograd until auto (the `wide`
// grid's rounding), and by implicit GEMM, `wasm-gemm`, whose hashes are those of every wasm run before Winograd;
// auto takes the GEMM for the 1-channel input layer and Winograd elsewhere since bench/NOTES.md §20), hashes each
// checkpoint's tensors (names, shapes, dtypes, bytes; not the metadata, which holds paths and the commit), and
// compares with scripts/same-bits.json. It also keeps a hash of each algorithm's three 3×3 ops (forward, input and
// weight gradient) on seeded inputs at the quickstart's and wide's conv shapes, on 2 threads
// (`node dist/bench/conv3x3.js --bits`), so a kernel change that must keep the bits is checked at the grid's shapes.
//   node scripts/same-bits.mjs            compare (exit 1 on any difference)
//   node scripts/same-bits.mjs --record   write the hashes (before a change that must keep them, or after one that
//                                         changes a column on purpose, every other column checked first)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const record = process.argv.includes('--record'),
  file = 'scripts/same-bits.json';
const dir = mkdtempSync(join(tmpdir(), 'same-bits-'));
const glocal = (...args) => {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`glocal ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
};

/** SHA-256 over a safetensors file's tensor table and data, without its __metadata__. */
function tensorHash(path) {
  const bytes = readFileSync(path),
    n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  delete header.__metadata__;
  const names = Object.keys(header).sort();
  return createHash('sha256')
    .update(JSON.stringify(names.map((k) => [k, header[k]])))
    .update(bytes.subarray(8 + n))
    .digest('hex');
}

const hashes = {};
try {
  glocal('phantom', '--out', join(dir, 'data'), '--n', '6', '--seed', '3');
  for (const be of ['webgpu', 'wasm', 'wasm-winograd', 'wasm-gemm']) {
    const [backend, conv3x3] = be.split('-'),
      common = ['--backend', backend, '--threads', '1', ...(conv3x3 ? ['--conv3x3', conv3x3] : [])];
    glocal(
      'train',
      '--data',
      join(dir, 'data'),
      '--preset',
      'smoke',
      '--iterations',
      '20',
      '--seed',
      '3',
      '--out',
      join(dir, `train-${be}`),
      ...common,
    );
    glocal(
      'pretrain',
      '--data',
      join(dir, 'data'),
      '--preset',
      'smoke',
      '--strategy',
      'GD',
      '--local',
      'LD',
      '--iterations',
      '5',
      '--out',
      join(dir, `pretrain-${be}`),
      ...common,
    );
    glocal(
      'experiment',
      '--data',
      join(dir, 'data'),
      '--preset',
      'smoke',
      '--runs',
      '1',
      '--methods',
      'random,GD+LD',
      '--keep-models',
      '--out',
      join(dir, `experiment-${be}`),
      ...common,
    );
    hashes[`${be} train`] = tensorHash(join(dir, `train-${be}`, 'model.safetensors'));
    for (const stage of ['global', 'local'])
      hashes[`${be} pretrain ${stage}`] = tensorHash(join(dir, `pretrain-${be}`, `${stage}.safetensors`));
    for (const f of readdirSync(join(dir, `experiment-${be}`, 'models')).sort())
      hashes[`${be} experiment ${f}`] = tensorHash(join(dir, `experiment-${be}`, 'models', f));
  }
  const kernels = spawnSync(process.execPath, ['dist/bench/conv3x3.js', '--bits', '--threads', '2'], {
    encoding: 'utf8',
  });
  if (kernels.status !== 0) throw new Error(`conv3x3 --bits failed:\n${kernels.stdout}\n${kernels.stderr}`);
  Object.assign(hashes, JSON.parse(kernels.stdout));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (record) {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(hashes, null, 1)}\n`);
  renameSync(`${file}.tmp`, file);
  console.log(`recorded ${Object.keys(hashes).length} hashes in ${file}`);
} else {
  const want = JSON.parse(readFileSync(file, 'utf8'));
  const keys = [...new Set([...Object.keys(want), ...Object.keys(hashes)])].sort();
  const differ = keys.filter((k) => want[k] !== hashes[k]);
  for (const k of keys) console.log(`${want[k] === hashes[k] ? 'same' : 'DIFFERS'}  ${k}`);
  if (differ.length) {
    console.log(`${differ.length} of ${keys.length} differ from ${file}`);
    process.exit(1);
  }
  console.log(`all ${keys.length} hashes (checkpoints and kernel outputs) bit-identical to ${file}`);
}
