// Fuzzing of every file glocal reads from a user: NIfTI volumes, safetensors checkpoints and dataset manifests
// (manifest.json, manifest.csv). Each target mutates valid seeds with a fixed seed; every case must either read
// into a consistent result or throw the reader's own error naming the input, within a time limit. Each target
// reports its case count, its slowest case and its peak RSS growth (Node and Deno; browsers expose no RSS).

import { type TestEnv, assert } from '../harness.ts';
import { NiftiError, readNifti, writeNifti } from '../../src/io/nifti.ts';
import type { Vec3, Volume } from '../../src/volume/volume.ts';
import { CheckpointError, loadParams, saveParams } from '../../src/train/checkpoint.ts';
import { UNet, tinyUNet } from '../../src/model/unet.ts';
import { DatasetError, loadDataset } from '../../src/data/dataset.ts';
import { nodeFs } from '../../src/io/files.ts';
import { Rng } from '../../src/util/random.ts';
import { gzipSync } from 'fflate';

// ------------------------------------------------------------------------------------------------ the driver

export interface FuzzReport {
  cases: number;
  refused: number;
  read: number;
  slowestMs: number;
  slowestCase: number;
  peakRssGrowthMiB: number | null;
}

/** The process's resident memory, without a collection first (cheap enough to sample after every case). */
const rssNow = (): number | null => {
  const g = globalThis as any;
  if (g.Deno) return g.Deno.memoryUsage().rss;
  return g.process?.memoryUsage?.rss?.() ?? null;
};

/** Peak RSS growth a target may cause: a reader that inflates or allocates what a header claims reaches GiBs. */
const RSS_LIMIT_MIB = 1024;

/**
 * Run `cases` cases of the target `name`: `one(c)` returns true when case c was read into a consistent result,
 * false when it was refused with the reader's own error, and throws for anything else. Each case must finish
 * within `limitMs`; the report goes to env.report.fuzz[name] and to the log.
 */
async function runFuzz(
  env: TestEnv,
  name: string,
  cases: number,
  limitMs: number,
  one: (c: number) => Promise<boolean> | boolean,
): Promise<FuzzReport> {
  const rss0 = rssNow();
  let read = 0,
    slowestMs = 0,
    slowestCase = -1,
    peak = rss0 ?? 0;
  for (let c = 0; c < cases; c++) {
    const t0 = performance.now();
    if (await one(c)) read++;
    const ms = performance.now() - t0;
    if (ms > slowestMs) {
      slowestMs = ms;
      slowestCase = c;
    }
    assert(ms < limitMs, `${name} fuzz case ${c} took ${ms.toFixed(0)} ms (limit ${limitMs})`);
    const r = rss0 === null ? null : rssNow();
    if (r !== null && r > peak) peak = r;
  }
  const growth = rss0 === null ? null : Math.round((peak - rss0) / 2 ** 20);
  const limit = RSS_LIMIT_MIB;
  assert(growth === null || growth < limit, `${name} fuzzing grew RSS by ${growth} MiB (limit ${limit})`);
  const report: FuzzReport = {
    cases,
    refused: cases - read,
    read,
    slowestMs: Math.round(slowestMs),
    slowestCase,
    peakRssGrowthMiB: growth,
  };
  env.report.fuzz ??= {};
  (env.report.fuzz as Record<string, FuzzReport>)[name] = report;
  const memory = growth === null ? 'not measurable here' : `${growth} MiB`;
  console.log(
    `# fuzz ${name}: ${cases} cases (${report.refused} refused, ${read} read), ` +
      `slowest ${report.slowestMs} ms (case ${slowestCase}), peak RSS growth ${memory}`,
  );
  return report;
}

/** Run fn; an error of type `type` whose message starts with `prefix` is a refusal (false), anything else fails. */
async function refusedWith(
  what: string,
  type: new (...a: any[]) => Error,
  prefix: string,
  fn: () => unknown,
): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`${what}: threw ${String(e)}, not a ${type.name}`);
    assert(e.message.startsWith(prefix), `${what}: the message does not start with '${prefix}': ${e.message}`);
    return false;
  }
}

// ------------------------------------------------------------------------------------------------ bytes

const INTERESTING = [0, 1, 0xff, 0x7f, 0x80, 0xfe];

/** Mutations that know nothing of the format: flipped bits, a run of random bytes, a cut, garbage appended. */
function mutateBytes(seed: Uint8Array, rng: Rng): Uint8Array {
  let b = seed.slice();
  const kind = rng.int(4);
  if (kind === 0) {
    for (let k = 1 + rng.int(8); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8);
  } else if (kind === 1) {
    const o = rng.int(b.length),
      n = Math.min(b.length - o, 1 + rng.int(32));
    for (let i = 0; i < n; i++) b[o + i] = rng.int(3) ? rng.int(256) : INTERESTING[rng.int(INTERESTING.length)];
  } else if (kind === 2) {
    b = b.subarray(0, rng.int(b.length));
  } else {
    const extra = Uint8Array.from({ length: 1 + rng.int(64) }, () => rng.int(256));
    const c = new Uint8Array(b.length + extra.length);
    c.set(b);
    c.set(extra, b.length);
    b = c;
  }
  return b;
}

/** Values a hostile or broken file puts where a field should be. */
const ODD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e300,
  -1e300,
  2 ** 53,
  '',
  'x',
  '../../etc/passwd',
  '/',
  '1e3',
  [],
  [[]],
  [-1],
  [1e9, 1e9],
  [0.5],
  ['a'],
  {},
  { entries: [] },
  'F16',
  'NaN',
];

/** A copy of a JSON value with one node replaced, removed, or given a sibling (structure-aware mutation). */
function mutateJson(value: unknown, rng: Rng): unknown {
  const copy = structuredClone(value);
  const nodes: { parent: any; key: string | number }[] = [];
  const walk = (v: any) => {
    if (v === null || typeof v !== 'object') return;
    for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) {
      nodes.push({ parent: v, key: k });
      walk(v[k]);
    }
  };
  walk(copy);
  if (!nodes.length) return ODD_VALUES[rng.int(ODD_VALUES.length)];
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const { parent, key } = nodes[rng.int(nodes.length)],
      odd = structuredClone(ODD_VALUES[rng.int(ODD_VALUES.length)]);
    const what = rng.int(4);
    if (what === 0) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (what === 1 && Array.isArray(parent)) parent.push(structuredClone(parent[Number(key)]));
    else if (what === 1) parent[`${key}_`] = odd;
    else parent[key] = odd;
  }
  return copy;
}

// ------------------------------------------------------------------------------------------------ NIfTI

/** A volume of 1×1×2 mm voxels (the affine to match), each voxel `fill(i)`; also the failure cases' volumes. */
export function syntheticVolume(source: string, fill: (i: number) => number, dims: Vec3): Volume {
  const n = dims[0] * dims[1] * dims[2];
  return {
    data: Float32Array.from({ length: n }, (_, i) => fill(i)),
    dims,
    spacing: [1, 1, 2],
    affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1],
    source,
  };
}

/** Valid seeds: both versions, three datatypes, scaled, gzipped. */
function niftiSeeds(): Uint8Array[] {
  const v = syntheticVolume('seed.nii', (i) => (i * 13) % 97, [6, 5, 4]);
  const ints = { ...v, data: v.data.map((x) => Math.round(x)) };
  return [
    writeNifti(v),
    writeNifti(v, { version: 2 }),
    writeNifti(ints, { datatype: 'int16' }),
    writeNifti(ints, { datatype: 'uint8', version: 2 }),
    writeNifti(v, { gzip: true }),
    writeNifti(ints, { datatype: 'int16', gzip: true, version: 2 }),
  ];
}

/** Header offsets worth hitting (NIfTI-1 dims, datatype, bitpix, vox_offset, scl_slope; NIfTI-2 the same). */
const HOT = [0, 40, 42, 44, 46, 48, 70, 72, 108, 112, 252, 254, 344, 4, 12, 14, 16, 24, 32, 40, 168, 176, 536];

function mutateNifti(seed: Uint8Array, rng: Rng, mayGzip = true): Uint8Array {
  const kind = rng.int(mayGzip && seed[0] !== 0x1f ? 4 : 3);
  if (kind === 0) return mutateBytes(seed, rng);
  const b = seed.slice();
  if (kind === 1) {
    // interesting bytes at hot header offsets
    for (let k = 1 + rng.int(4); k > 0; k--) {
      b[Math.min(b.length - 1, HOT[rng.int(HOT.length)] + rng.int(8))] = INTERESTING[rng.int(INTERESTING.length)];
    }
  } else if (kind === 2) {
    // a random 16/32-bit or float field value at a hot offset
    const o = Math.min(b.length - 8, HOT[rng.int(HOT.length)]),
      dv = new DataView(b.buffer);
    const r = rng.int(3),
      le = rng.int(2) === 0;
    if (r === 0) dv.setInt16(o, rng.int(65536) - 32768, le);
    else if (r === 1) dv.setInt32(o, (rng.int(2 ** 31) * (rng.int(2) ? 1 : -1)) | 0, le);
    else dv.setFloat32(o, [NaN, Infinity, -1, 0, 1e30, 1e-30][rng.int(6)], le);
  } else {
    // mutate the plain file, then gzip it (reaches the parser behind a valid gzip layer)
    return gzipSync(mutateNifti(seed, rng, false));
  }
  return b;
}

/** 10 000 mutated NIfTI files: a consistent volume within the 1 MiB limit, or a NiftiError naming the file. */
export async function fuzzNifti(env: TestEnv): Promise<void> {
  const seeds = niftiSeeds(),
    rng = new Rng(20261126),
    maxBytes = 1 << 20;
  const r = await runFuzz(env, 'nifti', 10000, 2000, (c) =>
    refusedWith(`nifti case ${c} (seed 20261126)`, NiftiError, `fuzz-${c}.nii: `, () => {
      const v = readNifti(mutateNifti(seeds[c % seeds.length], rng), `fuzz-${c}.nii`, { maxBytes });
      const n = v.dims[0] * v.dims[1] * v.dims[2];
      assert(
        v.dims.every((d) => Number.isInteger(d) && d >= 1) && v.data.length === n && 4 * n <= 4 * maxBytes,
        `nifti case ${c}: inconsistent volume ${v.dims} with ${v.data.length} values`,
      );
    }),
  );
  assert(
    r.refused > r.cases / 4 && r.read > r.cases / 20,
    `the mutations should both break and keep files: ${r.refused} refused, ${r.read} read`,
  );
}

// ------------------------------------------------------------------------------------------------ checkpoints

/** A safetensors file's header and data section, apart, and put back together with the header's new length. */
function splitSafetensors(b: Uint8Array): { header: unknown; data: Uint8Array } {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))), data: b.subarray(8 + n) };
}
function joinSafetensors(header: unknown, data: Uint8Array, rng: Rng): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header) ?? 'null');
  const out = new Uint8Array(8 + h.length + data.length);
  // mostly the true length; sometimes one that lies (past the end, zero, inside the header)
  const lies = [0, 1, h.length - 1, h.length + 1, out.length, 2 ** 40];
  const n = rng.int(6) ? h.length : lies[rng.int(lies.length)];
  new DataView(out.buffer).setBigUint64(0, BigInt(Math.max(0, n)), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/**
 * 2 000 mutated checkpoints of a tiny UNet, loaded in full or weights only: the parameters load with a
 * consistent step and iteration, or a CheckpointError names the file.
 */
export async function fuzzCheckpoints(env: TestEnv): Promise<void> {
  const model = new UNet(env.ref, tinyUNet(3), 1); // CPU: what is fuzzed is the file, not the device
  const seed = await saveParams(model.params, {
    stage: 'finetune',
    iteration: 40,
    bestValDice: 0.5,
    config: { size: 16 },
    state: { rng: [1, 2] },
  });
  const parts = splitSafetensors(seed),
    rng = new Rng(20261207);
  // the metadata is a JSON string inside the JSON header: mutate it as JSON too, or the fuzzer never reaches it
  const meta = JSON.parse((parts.header as any).__metadata__.glocal);
  const input = (): Uint8Array => {
    const kind = rng.int(3);
    if (kind === 0) return mutateBytes(seed, rng);
    const header =
      kind === 1
        ? mutateJson(parts.header, rng)
        : { ...(parts.header as object), __metadata__: { glocal: JSON.stringify(mutateJson(meta, rng)) } };
    return joinSafetensors(header, parts.data, rng);
  };
  try {
    const r = await runFuzz(env, 'checkpoint', 2000, 2000, (c) => {
      const bytes = input(),
        weightsOnly = c % 4 === 3;
      return refusedWith(`checkpoint case ${c} (seed 20261207)`, CheckpointError, `fuzz-${c}.safetensors: `, () => {
        const m = loadParams(model.params, bytes, `fuzz-${c}.safetensors`, { weightsOnly });
        const whole = (x: unknown) => Number.isInteger(x) && (x as number) >= 0;
        assert(
          whole(m.iteration) && whole(model.params.step) && typeof m.stage === 'string',
          `checkpoint case ${c}: iteration ${m.iteration}, Adam step ${model.params.step}, stage ${m.stage}`,
        );
      });
    });
    assert(
      r.refused > r.cases / 4 && r.read > r.cases / 20,
      `the mutations should both break and keep checkpoints: ${r.refused} refused, ${r.read} read`,
    );
  } finally {
    model.params.dispose();
  }
}

// ------------------------------------------------------------------------------------------------ manifests

const MANIFEST_JSON = [
  {
    classes: ['background', 'RV', 'myocardium', 'LV'],
    targetSpacing: 1.5,
    labelRemap: { 0: 0, 1: 1, 2: 2, 3: 3 },
    generator: { name: 'fuzz' },
    entries: [
      { image: 'a.nii', label: 'a_gt.nii', split: 'train' },
      { image: 'b.nii', label: 'b_gt.nii', split: 'test', name: 'b' },
      { image: 'c.nii', split: 'unlabeled' },
    ],
  },
  [{ image: 'a.nii', label: 'a_gt.nii' }, { image: 'b.nii', label: 'b_gt.nii' }, { image: 'c.nii' }],
];
const MANIFEST_CSV = [
  'image,label,split\na.nii,a_gt.nii,train\nb.nii,b_gt.nii,val\nc.nii,,unlabeled\n',
  '# no splits\nimage,label\na.nii,a_gt.nii\nc.nii\n',
];

/** What a dataset read from a manifest must be: named entries whose files exist, valid splits and classes. */
async function checkDataset(what: string, dir: string): Promise<void> {
  const ds = await loadDataset(dir),
    fs = await nodeFs();
  const exists = (p: string) =>
    fs.stat(p).then(
      () => true,
      () => false,
    );
  for (const e of ds.entries) {
    const entry = JSON.stringify(e);
    assert(typeof e.name === 'string' && typeof e.image === 'string' && (await exists(e.image)), `${what}: ${entry}`);
    assert(e.label === null || (typeof e.label === 'string' && (await exists(e.label))), `${what}: label of ${entry}`);
    assert(['train', 'val', 'test', 'unlabeled'].includes(e.split as string), `${what}: split ${e.split}`);
  }
  assert(
    ds.classes === null || (ds.classes.length > 0 && ds.classes.every((c) => typeof c === 'string')),
    `${what}: classes ${JSON.stringify(ds.classes)}`,
  );
  const remap = Object.entries(ds.labelRemap ?? {});
  assert(
    remap.every(([k, v]) => Number.isInteger(Number(k)) && Number.isInteger(v) && v >= 0),
    `${what}: label remap ${JSON.stringify(ds.labelRemap)}`,
  );
  const mm = ds.targetSpacing;
  assert(mm === null || (mm > 0 && Number.isFinite(mm)), `${what}: target spacing ${mm}`);
}

/**
 * 1 000 mutated manifests (manifest.json three times out of four, else manifest.csv) over a folder of five
 * files: a consistent dataset, or a DatasetError that names the folder or the manifest (Node, Deno).
 */
export async function fuzzManifests(env: TestEnv): Promise<void> {
  const dir = `dist/test-results/fuzz-manifest-${Date.now().toString(36)}`,
    fs = await nodeFs();
  const rng = new Rng(20261208);
  await fs.mkdir(dir, { recursive: true });
  try {
    for (const f of ['a.nii', 'a_gt.nii', 'b.nii', 'b_gt.nii', 'c.nii']) await fs.writeFile(`${dir}/${f}`, '');
    const text = new TextDecoder(),
      bytes = (s: string) => new TextEncoder().encode(s);
    const r = await runFuzz(env, 'manifest', 1000, 2000, async (c) => {
      const json = c % 4 !== 3,
        seed = json ? MANIFEST_JSON[c % 2] : MANIFEST_CSV[c % 2];
      const content =
        json && rng.int(2)
          ? (JSON.stringify(mutateJson(seed, rng)) ?? 'null')
          : text.decode(mutateBytes(bytes(json ? JSON.stringify(seed) : (seed as string)), rng));
      await fs.rm(`${dir}/manifest.json`, { force: true });
      await fs.rm(`${dir}/manifest.csv`, { force: true });
      await fs.writeFile(`${dir}/manifest.${json ? 'json' : 'csv'}`, content);
      return refusedWith(`manifest case ${c} (seed 20261208): ${content.slice(0, 300)}`, DatasetError, dir, () =>
        checkDataset(`manifest case ${c}`, dir),
      );
    });
    assert(
      r.refused > r.cases / 10 && r.read > r.cases / 20,
      `the mutations should both break and keep manifests: ${r.refused} refused, ${r.read} read`,
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
