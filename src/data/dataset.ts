// Datasets on disk: a folder with a manifest (manifest.json or manifest.csv), or a recognised layout —
// ACDC (patientNNN/patientNNN_frame01.nii.gz + _gt) or the Medical Segmentation Decathlon (imagesTr/,
// labelsTr/, dataset.json). The number of classes K comes from the data (class names in the manifest or
// dataset.json, else the largest label value + 1), with an optional label remap.

import { fileExists as exists, joinPath, nodeFs, readText } from '../io/files.ts';
import { assignDefaultSplit } from './splits.ts';

/** A manifest's path: absolute ones (/…, C:\…) as given, relative ones from the dataset folder. */
const isAbsolute = (p: string) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p);
const join = (root: string, ...parts: string[]) =>
  parts.length === 1 && isAbsolute(parts[0]) ? parts[0] : joinPath(root, ...parts);

const relative = (root: string, p: string) => (p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p);
const readdir = async (dir: string) => (await nodeFs()).readdir(dir);
const readdirTyped = async (dir: string) => (await nodeFs()).readdir(dir, { withFileTypes: true });

export type Split = 'train' | 'val' | 'test' | 'unlabeled';

export interface DatasetEntry {
  name: string;
  image: string;
  label: string | null;
  split: Split | null;
}

export interface Dataset {
  root: string;
  layout: 'manifest.json' | 'manifest.csv' | 'acdc' | 'msd';
  entries: DatasetEntry[];
  classes: string[] | null;
  /** label value → class index */
  labelRemap: Record<number, number> | null;
  /** in-plane spacing to resample to (mm), when the dataset names one */
  targetSpacing: number | null;
  /** free-form provenance, e.g. the phantom generator version */
  generator: Record<string, unknown> | null;
  /** set when the dataset named no split and got the default one (splits.ts): a sentence for the log */
  splitNote?: string;
}

export class DatasetError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'DatasetError';
  }
}

const SPLITS: Split[] = ['train', 'val', 'test', 'unlabeled'];

function checkSplit(path: string, s: unknown): Split | null {
  if (s === undefined || s === null || s === '') return null;
  if (!SPLITS.includes(s as Split)) throw new DatasetError(path, `split '${s}' is not one of ${SPLITS.join(', ')}`);
  return s as Split;
}

export async function loadDataset(root: string): Promise<Dataset> {
  if (!(await exists(root))) throw new DatasetError(root, 'no such folder');
  let ds: Dataset;
  if (await exists(join(root, 'manifest.json'))) ds = await fromJson(root);
  else if (await exists(join(root, 'manifest.csv'))) ds = await fromCsv(root);
  else if (await exists(join(root, 'imagesTr'))) ds = await fromMsd(root);
  else ds = await fromAcdc(root);
  for (const e of ds.entries) {
    for (const p of [e.image, e.label]) {
      if (p && !(await exists(p)))
        throw new DatasetError(
          join(root, ds.layout.startsWith('manifest') ? ds.layout : ''),
          `entry ${e.name}: file ${relative(root, p)} does not exist`,
        );
    }
  }
  if (!ds.entries.length) throw new DatasetError(root, `no volumes found (${ds.layout} layout)`);
  refuseDuplicates(ds);
  if (ds.entries.every((e) => e.split === null)) ds.splitNote = assignDefaultSplit(ds.entries);
  // an entry without a split among entries with one was in no split: never used, never said (a fuzzed manifest)
  const unsplit = ds.entries.find((e) => e.split === null);
  if (unsplit) {
    throw new DatasetError(
      join(root, ds.layout),
      `entry ${unsplit.name} has no split while others have one; ` +
        'give every entry a split (train, val, test or unlabeled), or none for the default split',
    );
  }
  return ds;
}

/** One file listed twice (say in train and in test) would leak test data into training: refused by name. */
function refuseDuplicates(ds: Dataset): void {
  const seen = new Map<string, DatasetEntry>();
  for (const e of ds.entries) {
    for (const p of [e.image, e.label]) {
      if (!p) continue;
      const other = seen.get(p);
      if (other) {
        throw new DatasetError(
          join(ds.root, ds.layout.startsWith('manifest') ? ds.layout : ''),
          `${relative(ds.root, p)} is listed twice: ` +
            `in entry ${other.name} (split ${other.split ?? 'none'}) and in entry ${e.name} (split ${e.split ?? 'none'}); list each volume once`,
        );
      }
      seen.set(p, e);
    }
  }
}

async function fromJson(root: string): Promise<Dataset> {
  const path = join(root, 'manifest.json');
  let m: any;
  try {
    m = JSON.parse(await readText(path));
  } catch (e) {
    throw new DatasetError(path, `not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(m) && m?.entries === undefined && m?.volumes !== undefined) {
    throw new DatasetError(path, 'the list of volumes must be named "entries", not "volumes"');
  }
  const list = Array.isArray(m) ? m : m?.entries;
  if (!Array.isArray(list)) throw new DatasetError(path, 'expected an array of entries, or an object with "entries"');
  const entries = list.map((e: any, i: number): DatasetEntry => {
    if (typeof e?.image !== 'string' || !e.image) {
      throw new DatasetError(path, `entry ${i}: "image" (a path) is missing`);
    }
    // a label or name of another type used to be dropped or kept silently (a fuzzed manifest found them)
    if (e.label !== undefined && e.label !== null && (typeof e.label !== 'string' || !e.label)) {
      throw new DatasetError(path, `entry ${i}: "label" must be a path, not ${JSON.stringify(e.label)}`);
    }
    if (e.name !== undefined && (typeof e.name !== 'string' || !e.name)) {
      throw new DatasetError(path, `entry ${i}: "name" must be a non-empty string`);
    }
    return {
      name:
        e.name ??
        e.image
          .replace(/(\.nii)?(\.gz)?$/, '')
          .split('/')
          .pop(),
      image: join(root, e.image),
      label: typeof e.label === 'string' ? join(root, e.label) : null,
      split: checkSplit(path, e.split),
    };
  });
  return {
    root,
    layout: 'manifest.json',
    entries,
    classes: manifestClasses(path, m.classes),
    labelRemap: manifestRemap(path, m.labelRemap),
    targetSpacing: manifestSpacing(path, m.targetSpacing),
    generator: m.generator ?? null,
  };
}

/** "classes": absent, or names (background first). */
function manifestClasses(path: string, classes: unknown): string[] | null {
  if (classes === undefined || classes === null) return null;
  if (!Array.isArray(classes) || !classes.length || !classes.every((c) => typeof c === 'string' && c)) {
    const given = JSON.stringify(classes).slice(0, 80);
    throw new DatasetError(path, `"classes" must list class names (background first), not ${given}`);
  }
  return classes;
}

/** "labelRemap": absent, or { label value: class index } in whole numbers. */
function manifestRemap(path: string, remap: unknown): Record<number, number> | null {
  if (remap === undefined || remap === null) return null;
  const ok =
    typeof remap === 'object' &&
    !Array.isArray(remap) &&
    Object.entries(remap).every(([k, v]) => /^\d+$/.test(k) && Number.isInteger(v) && (v as number) >= 0);
  if (!ok) {
    throw new DatasetError(
      path,
      `"labelRemap" must map label values to class indices, e.g. {"500": 1}, ` +
        `not ${JSON.stringify(remap).slice(0, 80)}`,
    );
  }
  return Object.fromEntries(Object.entries(remap as object).map(([k, v]) => [Number(k), v as number]));
}

/** "targetSpacing": absent, or a spacing in mm within the range volumes may have. */
function manifestSpacing(path: string, mm: unknown): number | null {
  if (mm === undefined || mm === null) return null;
  if (typeof mm !== 'number' || !(mm >= 0.01 && mm <= 50)) {
    throw new DatasetError(path, `"targetSpacing" must be a spacing in mm (0.01..50), not ${JSON.stringify(mm)}`);
  }
  return mm;
}

async function fromCsv(root: string): Promise<Dataset> {
  const path = join(root, 'manifest.csv');
  const lines = (await readText(path)).split(/\r?\n/).filter((l) => l.trim() && !l.startsWith('#'));
  const head = lines[0]?.split(',').map((s) => s.trim().toLowerCase()) ?? [];
  const col = (n: string) => head.indexOf(n);
  if (col('image') < 0) throw new DatasetError(path, 'the first line must name the columns: image[,label][,split]');
  const entries = lines.slice(1).map((l, i): DatasetEntry => {
    const f = l.split(',').map((s) => s.trim());
    const image = f[col('image')];
    if (!image) throw new DatasetError(path, `line ${i + 2}: no image path`);
    const label = col('label') >= 0 && f[col('label')] ? join(root, f[col('label')]) : null;
    return {
      name: image
        .replace(/(\.nii)?(\.gz)?$/, '')
        .split('/')
        .pop()!,
      image: join(root, image),
      label,
      split: checkSplit(path, col('split') >= 0 ? f[col('split')] : null),
    };
  });
  return {
    root,
    layout: 'manifest.csv',
    entries,
    classes: null,
    labelRemap: null,
    targetSpacing: null,
    generator: null,
  };
}

async function fromMsd(root: string): Promise<Dataset> {
  const files = (await readdir(join(root, 'imagesTr')))
    .filter((f) => /\.nii(\.gz)?$/.test(f) && !f.startsWith('._'))
    .sort();
  let classes: string[] | null = null;
  if (await exists(join(root, 'dataset.json'))) {
    const d = JSON.parse(await readText(join(root, 'dataset.json')));
    if (d.labels)
      classes = Object.entries(d.labels)
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map(([, v]) => String(v));
  }
  const entries: DatasetEntry[] = [];
  for (const f of files) {
    const label = join(root, 'labelsTr', f);
    entries.push({
      name: f.replace(/\.nii(\.gz)?$/, ''),
      image: join(root, 'imagesTr', f),
      label: (await exists(label)) ? label : null,
      split: null,
    });
  }
  return { root, layout: 'msd', entries, classes, labelRemap: null, targetSpacing: null, generator: null };
}

async function fromAcdc(root: string): Promise<Dataset> {
  // patientNNN/patientNNN_frame01.nii.gz (end-diastole, the paper's volume) with its _gt; also flat folders
  const found: string[] = [];
  const walk = async (dir: string, depth: number) => {
    for (const f of await readdirTyped(dir)) {
      const p = join(dir, f.name);
      if (f.isDirectory() && depth < 2) await walk(p, depth + 1);
      else if (/^patient\d+_frame01\.nii(\.gz)?$/.test(f.name)) found.push(p);
    }
  };
  await walk(root, 0);
  if (!found.length) {
    throw new DatasetError(
      root,
      'no manifest.json / manifest.csv, and neither an ACDC (patientNNN_frame01.nii.gz) nor an MSD (imagesTr/) layout',
    );
  }
  const entries: DatasetEntry[] = [];
  for (const image of found.sort()) {
    const label = image.replace(/(\.nii(\.gz)?)$/, '_gt$1');
    entries.push({
      name: image
        .split('/')
        .pop()!
        .replace(/\.nii(\.gz)?$/, ''),
      image,
      label: (await exists(label)) ? label : null,
      split: null,
    });
  }
  return {
    root,
    layout: 'acdc',
    entries,
    classes: ['background', 'RV', 'myocardium', 'LV'],
    labelRemap: null,
    targetSpacing: 1.36719,
    generator: null,
  };
}
