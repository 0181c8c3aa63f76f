// DICOM in (issue 28 item 1): series written by pydicom (test/fixtures/dicom/build.py, committed with its output)
// read into the voxels and RAS affine the generator wrote them with, from a folder, a list of files and an array
// of instance bytes; and the series glocal refuses, each by file and reason. File system: Node and Deno only.

import { type TestCase, assert, assertClose } from '../harness.ts';
import { DicomError, readDicomSeries } from '../../src/io/dicom.ts';
import { readVolumeFile } from '../../src/io/volume-file.ts';
import { readFileBytes, readText } from '../../src/io/files.ts';
import { writeNiftiFile } from '../../src/io/nifti-file.ts';
import { loadDataset } from '../../src/data/dataset.ts';
import { prepareEntries } from '../../src/data/prepare.ts';
import type { Volume } from '../../src/volume/volume.ts';

const FIXTURES = 'test/fixtures/dicom';

interface ExpectedSeries {
  dims: number[];
  spacing: number[];
  affine: number[];
  data: number[];
  sopInstanceUIDs: string[];
  files: string[];
}

const expectedSeries = async (): Promise<Record<string, ExpectedSeries>> =>
  JSON.parse(await readText(`${FIXTURES}/expected.json`)).series;

function assertMatches(what: string, v: Volume & { dicom?: { sopInstanceUIDs: string[] } }, e: ExpectedSeries): void {
  assert(v.dims.join() === e.dims.join(), `${what}: dims ${v.dims}, written ${e.dims}`);
  assert(
    v.spacing.every((s, a) => Math.abs(s - e.spacing[a]) < 1e-6),
    `${what}: spacing ${v.spacing}, written ${e.spacing}`,
  );
  const worst = Math.max(...v.affine.map((x, n) => Math.abs(x - e.affine[n])));
  // positions were written with 6 decimals and cosines with 8
  assert(worst < 1e-5, `${what}: affine ${v.affine.map((x) => +x.toFixed(5))} vs written ${e.affine}`);
  const want = Float32Array.from(e.data);
  assert(
    v.data.length === want.length && v.data.every((x, n) => x === want[n]),
    `${what}: voxel ${v.data.findIndex((x, n) => x !== want[n])} differs from the written value`,
  );
  assert(v.dicom?.sopInstanceUIDs.join() === e.sopInstanceUIDs.join(), `${what}: instances not in slice order`);
}

const FS_MODULE = 'node:fs/promises',
  BUFFER_MODULE = 'node:buffer';
const nodeFs = (): Promise<typeof import('node:fs/promises')> => import(/* @vite-ignore */ FS_MODULE);

async function withTempDir(name: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const fs = await nodeFs();
  const dir = `dist/test-results/${name}-${Date.now().toString(36)}`;
  await fs.mkdir(dir, { recursive: true });
  try {
    await fn(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function expectRefusal(what: string, read: () => Promise<unknown>, code: string, file: string, words: RegExp) {
  try {
    await read();
  } catch (e) {
    assert(e instanceof DicomError, `${what}: ${e} is not a DicomError`);
    assert(
      e.code === code && e.source.endsWith(file) && e.message.startsWith(e.source) && words.test(e.message),
      `${what}: expected ${code} on ${file} matching ${words}, got ${e.code} on ${e.source}: ${e.message}`,
    );
    return;
  }
  throw new Error(`${what}: read without complaint`);
}

export const dicomFileCases: TestCase[] = [
  {
    name: 'DICOM in: pydicom series (axial signed rescaled, oblique 12-bit implicit VR): the written voxels and affine',
    async run() {
      const expected = await expectedSeries();
      for (const name of ['axial', 'oblique']) {
        const e = expected[name],
          folder = `${FIXTURES}/${name}`;
        const fromFolder = await readVolumeFile(folder);
        assertMatches(`${name} (folder)`, fromFolder, e);
        assert(fromFolder.source === folder, `${name}: source ${fromFolder.source}`);
        const files = e.files.map((f) => `${folder}/${f}`);
        assertMatches(`${name} (file list)`, await readVolumeFile([...files].reverse()), e);
        // the library's form: instance bytes (as from DICOMweb), in any order, names optional
        const bytes = await Promise.all(files.map(readFileBytes)),
          buffers = bytes.map((b) => b.slice().buffer);
        assertMatches(`${name} (ArrayBuffers)`, readDicomSeries([buffers[1], ...buffers.slice(2), buffers[0]]), e);
        // Buffers that are views into a larger buffer (as Node's pooled small Buffers are; their slice() shares it)
        const { Buffer } = (await import(/* @vite-ignore */ BUFFER_MODULE)) as typeof import('node:buffer');
        const views = bytes.map((b, n) => {
          const view = Buffer.from(new ArrayBuffer(b.length + 16), 8, b.length);
          view.set(b);
          return { name: files[n], bytes: view };
        });
        assertMatches(`${name} (Buffer views)`, readDicomSeries(views), e);
      }
    },
  },
  {
    name: 'DICOM in: gantry tilt, uneven gaps, mixed series, JPEG, multi-frame, non-DICOM refused by file and reason',
    async run() {
      const folder = (name: string) => () => readVolumeFile(`${FIXTURES}/${name}`);
      await expectRefusal('tilt', folder('tilt'), 'tilt', 'IM0001.dcm', /sheared by 12\.00° .*GantryDetectorTilt 12/);
      await expectRefusal(
        'uneven',
        folder('nonuniform'),
        'spacing',
        'IM0003.dcm',
        /3 mm from .*IM0002\.dcm.* 2 mm apart: non-uniform/,
      );
      await expectRefusal('mixed', folder('mixed'), 'mixed-series', 'IM0002.dcm', /SeriesInstanceUID .*IM0000\.dcm/);
      await expectRefusal(
        'jpeg',
        folder('compressed'),
        'compressed',
        'IM0000.dcm',
        /1\.2\.840\.10008\.1\.2\.4\.50 \(JPEG baseline\)/,
      );
      await expectRefusal('multi-frame', folder('multiframe'), 'multi-frame', 'IM0000.dcm', /3 frames/);
      const axial = `${FIXTURES}/axial/IM0000.dcm`,
        bytes = await readFileBytes(axial);
      const twice = [axial, `${FIXTURES}/axial/IM0001.dcm`, axial];
      await expectRefusal(
        'two copies of a slice',
        () => readVolumeFile(twice),
        'mixed-series',
        'IM0000.dcm',
        /same position/,
      );
      const cut = [{ name: 'notes.dcm', bytes: bytes.slice(0, 100) }];
      await expectRefusal('not DICOM', async () => readDicomSeries(cut), 'not-dicom', 'notes.dcm', /not a readable/);
      await withTempDir('dicom-empty', async (dir) => {
        await (await nodeFs()).mkdir(`${dir}/SERIES1`);
        await expectRefusal('a folder of folders', () => readVolumeFile(dir), 'empty', dir, /subfolders: SERIES1/);
      });
    },
  },
  {
    name: 'DICOM in: a dataset entry that is a DICOM series folder is prepared for train and pretrain (NIfTI label)',
    async run() {
      await withTempDir('dicom-dataset', async (dir) => {
        const image = await readVolumeFile(`${FIXTURES}/axial`);
        const label = { ...image, data: image.data.map((x) => (x > 0 ? 1 : 0)), source: 'label' };
        // the series, and a NIfTI copy of it beside (the NIfTI route), each with the same label map
        await writeNiftiFile(`${dir}/copy.nii`, image);
        for (const gt of ['a_gt.nii.gz', 'b_gt.nii.gz']) await writeNiftiFile(`${dir}/${gt}`, label);
        const entries = [
          { image: '../../../test/fixtures/dicom/axial', label: 'a_gt.nii.gz', split: 'train' },
          { image: 'copy.nii', label: 'b_gt.nii.gz', split: 'test' },
        ];
        await (await nodeFs()).writeFile(`${dir}/manifest.json`, JSON.stringify({ classes: ['bg', 'fg'], entries }));
        const ds = await loadDataset(dir),
          grid = { targetSpacing: 0.6, size: 16, biasField: false };
        const [fromDicom, fromNifti] = await prepareEntries(ds, ds.entries, grid);
        const sum = (a: Float32Array | null) => a!.reduce((s, x) => s + x, 0);
        assert(fromDicom.nz === 4 && sum(fromDicom.nativeLabels) === sum(label.data), `${fromDicom.nz} slices`);
        // the NIfTI copy's affine went through float32, so the resampling may differ in the last bits
        assertClose('the DICOM entry against its NIfTI copy', fromDicom.slices, fromNifti.slices, 1e-5);
      });
    },
  },
];
