// DICOM SEG export (issues 5 and 28): a label map written by dicomSeg and read back with dcmjs gives the same labels,
// frame by frame, with each frame's position and source image, the segment table with coded anatomy, and the study
// of the source; the label-map SEG holds the same; an empty label map is refused. dicomSegFileCases (Node, Deno):
// the binary SEG of a pydicom-written series passes dciodvfy (dicom3tools) without errors, and the version matches.

import { CaseSkipped, type TestCase, assert } from '../harness.ts';
import dcmjs from 'dcmjs';
import {
  dicomSeg,
  LABEL_MAP_SEGMENTATION_STORAGE,
  SEGMENTATION_STORAGE,
  type DicomSource,
} from '../../src/viewers/dicom-seg.ts';
import type { SegmentInfo } from '../../src/viewers/adapters.ts';
import { Rng } from '../../src/util/random.ts';
import { GLOCAL_VERSION } from '../../src/version.ts';
import { readVolumeFile } from '../../src/io/volume-file.ts';
import { readText, writeFileAtomic } from '../../src/io/files.ts';
import type { DicomVolume } from '../../src/io/dicom.ts';

const COLORS: [number, number, number][] = [
  [230, 60, 60],
  [60, 200, 80],
  [70, 110, 240],
];
const SEGMENTS: SegmentInfo[] = ['RV', 'myocardium', 'LV'].map((label, i) => ({
  segmentIndex: i + 1,
  label,
  color: COLORS[i],
}));

/** 13×9×5 labels 0..3 on an oblique source: slice 2 empty, slice 4 only two voxels of segment 3. */
function example(): { labels: Uint8Array; source: DicomSource } {
  const [cols, rows, slices] = [13, 9, 5],
    P = cols * rows,
    rng = new Rng(4);
  const labels = new Uint8Array(P * slices);
  for (let k = 0; k < slices; k++) {
    for (let p = 0; p < P; p++) labels[k * P + p] = k === 2 ? 0 : rng.int(4) === 0 ? 0 : 1 + rng.int(3);
  }
  labels.fill(0, 4 * P, 5 * P);
  labels[4 * P + 7] = labels[4 * P + 50] = 3;
  const s = Math.SQRT1_2;
  const source: DicomSource = {
    dimensions: [cols, rows, slices],
    spacing: [1.25, 1.5, 8],
    origin: [-100, 20.5, 33],
    direction: [s, s, 0, -s, s, 0, 0, 0, 1],
    ...seriesIds(slices),
  };
  return { labels, source };
}

/** A test series' identifiers (UIDs under the 2.25 root, a made-up patient) for `slices` MR instances. */
export const seriesIds = (slices: number) => ({
  studyInstanceUID: '2.25.1',
  seriesInstanceUID: '2.25.2',
  frameOfReferenceUID: '2.25.3',
  sopClassUID: '1.2.840.10008.5.1.4.1.1.4',
  sopInstanceUIDs: Array.from({ length: slices }, (_, k) => `2.25.10${k}`),
  patient: { name: 'Doe^Jane', id: 'P1' },
});

const read = (bytes: Uint8Array) =>
  dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(bytes.slice().buffer).dict);
const first = (x: any) => (Array.isArray(x) ? x[0] : x);
const pixelBytes = (ds: any) => new Uint8Array(first(ds.PixelData));
/** The slice k of a frame, from its ImagePositionPatient along the example's normal (z). */
const frameSlice = (f: any) =>
  Math.round((first(f.PlanePositionSequence).ImagePositionPatient.map(Number)[2] - 33) / 8);

function checkHeader(ds: any, sopClass: string, type: string): void {
  assert(ds.SOPClassUID === sopClass && ds.Modality === 'SEG' && ds.SegmentationType === type, `not a ${type} SEG`);
  assert(
    ds.StudyInstanceUID === '2.25.1' && ds.FrameOfReferenceUID === '2.25.3' && ds.PatientID === 'P1',
    'source study not carried',
  );
  const segs = ds.SegmentSequence.map((x: any) => `${x.SegmentNumber}:${x.SegmentLabel}`).join();
  assert(segs === '1:RV,2:myocardium,3:LV', `segment table ${segs}`);
  // coded anatomy (SNOMED CT), a PositionReferenceIndicator (type 2), no person as creator, the real version
  const types = ds.SegmentSequence.map((x: any) => first(x.SegmentedPropertyTypeCodeSequence))
    .map((c: any) => `${c.CodingSchemeDesignator}:${c.CodeValue}:${c.CodeMeaning}`)
    .join();
  const want = 'SCT:53085002:Right ventricle,SCT:74281007:Myocardium,SCT:87878005:Left ventricle';
  assert(types === want, `segment types ${types}`);
  assert('PositionReferenceIndicator' in ds, 'no PositionReferenceIndicator');
  const creator = first(ds.ContentCreatorName);
  assert(creator === undefined || creator === '', `ContentCreatorName ${JSON.stringify(ds.ContentCreatorName)}`);
  assert(ds.SoftwareVersions === GLOCAL_VERSION, `SoftwareVersions ${ds.SoftwareVersions}`);
}

const binaryCase: TestCase = {
  name: 'DICOM SEG: a label map round-trips through dcmjs (frames, bits, positions, sources, coded segments)',
  async run() {
    const { labels, source } = example(),
      P = 13 * 9;
    const ds = read(dicomSeg(labels, source, SEGMENTS));
    checkHeader(ds, SEGMENTATION_STORAGE, 'BINARY');
    const frames = ds.PerFrameFunctionalGroupsSequence;
    // segments 1 and 2 on slices 0, 1, 3; segment 3 on 0, 1, 3, 4; slice 2 is empty
    assert(Number(ds.NumberOfFrames) === 10 && frames.length === 10, `${ds.NumberOfFrames} frames, expected 10`);
    const pixels = pixelBytes(ds),
      back = new Uint8Array(labels.length);
    frames.forEach((f: any, n: number) => {
      const seg = first(f.SegmentIdentificationSequence).ReferencedSegmentNumber,
        k = frameSlice(f);
      const pos = first(f.PlanePositionSequence).ImagePositionPatient.map(Number);
      assert(
        [0, 1].every((a) => Math.abs(pos[a] - source.origin[a]) < 1e-6),
        `frame ${n}: position ${pos}`,
      );
      const src = first(first(f.DerivationImageSequence).SourceImageSequence);
      assert(src.ReferencedSOPInstanceUID === source.sopInstanceUIDs[k], `frame ${n}: source image`);
      for (let p = 0; p < P; p++) {
        const b = n * P + p;
        if (pixels[b >> 3] & (1 << (b & 7))) back[k * P + p] = seg;
      }
    });
    assert(
      back.every((v, i) => v === labels[i]),
      'the labels read back differ',
    );
  },
};

const labelMapCase: TestCase = {
  name: 'DICOM SEG: the label-map SEG (…66.7) holds one 8-bit frame per slice whose pixels are the labels',
  async run() {
    const { labels, source } = example();
    const ds = read(dicomSeg(labels, source, SEGMENTS, { type: 'labelmap' }));
    checkHeader(ds, LABEL_MAP_SEGMENTATION_STORAGE, 'LABELMAP');
    assert(ds.BitsAllocated === 8 && ds.PhotometricInterpretation === 'MONOCHROME2', `${ds.BitsAllocated} bits`);
    const frames = ds.PerFrameFunctionalGroupsSequence;
    assert(Number(ds.NumberOfFrames) === 5 && frames.length === 5, `${ds.NumberOfFrames} frames, expected 5`);
    assert(
      frames.every((f: any, k: number) => frameSlice(f) === k && !f.SegmentIdentificationSequence),
      'frame order',
    );
    const pixels = pixelBytes(ds);
    assert(pixels.length >= labels.length && labels.every((v, i) => pixels[i] === v), 'the labels read back differ');
  },
};

const refusalCase: TestCase = {
  name: 'DICOM SEG: an empty label map and a creator that is no person name are refused; the codes are overridable',
  async run() {
    const { labels, source } = example();
    for (const type of ['binary', 'labelmap'] as const) {
      let message = '';
      try {
        dicomSeg(new Uint8Array(labels.length), source, SEGMENTS, { type, name: 'case1.seg.dcm' });
      } catch (e) {
        message = String(e);
      }
      assert(
        /case1\.seg\.dcm: the label map holds no voxel of any segment \(RV, myocardium, LV\)/.test(message),
        `${type}: an empty label map gave ${message || 'a file'}`,
      );
    }
    let message = '';
    try {
      dicomSeg(labels, source, SEGMENTS, { contentCreatorName: 'a\\b' });
    } catch (e) {
      message = String(e);
    }
    assert(/not a DICOM person name/.test(message), `creator 'a\\b': ${message || 'accepted'}`);
    const lvCavity = {
      category: { value: '123037004', scheme: 'SCT', meaning: 'Anatomical Structure' },
      type: { value: 'X1', scheme: '99LOCAL', meaning: 'LV cavity' },
    };
    const ds = read(dicomSeg(labels, source, SEGMENTS, { codes: { lv: lvCavity }, contentCreatorName: 'Doe^Jane' }));
    const lv = first(ds.SegmentSequence[2].SegmentedPropertyTypeCodeSequence);
    assert(lv.CodeValue === 'X1' && lv.CodingSchemeDesignator === '99LOCAL', `overridden LV: ${JSON.stringify(lv)}`);
    assert(
      first(ds.ContentCreatorName)?.Alphabetic === 'Doe^Jane' || first(ds.ContentCreatorName) === 'Doe^Jane',
      `ContentCreatorName ${JSON.stringify(ds.ContentCreatorName)}`,
    );
  },
};

export const dicomSegCases: TestCase[] = [binaryCase, labelMapCase, refusalCase];

const CHILD_PROCESS = 'node:child_process',
  FS_MODULE = 'node:fs/promises';

export const dicomSegFileCases: TestCase[] = [
  {
    name: 'DICOM SEG: the binary SEG of a pydicom-written series passes dciodvfy (dicom3tools) with no error',
    nodeOnly: true,
    async run() {
      const series = (await readVolumeFile('test/fixtures/dicom/oblique')) as DicomVolume;
      const labels = series.data.map((x) => (x > 1500 ? 1 : x > 1000 ? 2 : x > 500 ? 3 : 0));
      // all three segments, and a label map without segment 1 (still listed: segment numbers run 1, 2, 3)
      const files = [labels, labels.map((x) => (x === 1 ? 0 : x))].map((l) => dicomSeg(l, series.dicom, SEGMENTS));
      const { spawnSync } = (await import(/* @vite-ignore */ CHILD_PROCESS)) as typeof import('node:child_process');
      const which = spawnSync('dciodvfy', ['-help'], { encoding: 'utf8' });
      if (which.error)
        throw new CaseSkipped(
          'dciodvfy: not installed here (Debian: apt-get install dicom3tools; scripts/install-software-gpu.sh installs it)',
        );
      const fs = (await import(/* @vite-ignore */ FS_MODULE)) as typeof import('node:fs/promises');
      await fs.mkdir('dist/test-results', { recursive: true });
      for (const [n, bytes] of files.entries()) {
        const path = `dist/test-results/dciodvfy-${n}-${Date.now().toString(36)}.dcm`;
        await writeFileAtomic(path, bytes);
        const r = spawnSync('dciodvfy', [path], { encoding: 'utf8' });
        const out = `${r.stdout}${r.stderr}`,
          errors = out.split('\n').filter((l) => /^Error/.test(l));
        assert(/Segmentation/.test(out) && errors.length === 0, `dciodvfy ${path}:\n${errors.join('\n') || out}`);
        await fs.rm(path);
      }
    },
  },
  {
    name: "version: GLOCAL_VERSION (SoftwareVersions of a SEG) is package.json's version",
    async run() {
      const version = JSON.parse(await readText('package.json')).version;
      assert(GLOCAL_VERSION === version, `src/version.ts says ${GLOCAL_VERSION}, package.json ${version}`);
    },
  },
];
