// A DICOM series in: single-frame instances of one series, uncompressed, → the Volume that NIfTI reading gives
// (voxels i = column fastest, then row, then slice; affine in RAS), plus what a DICOM SEG of it needs
// (DicomSource). dcmjs parses each Part 10 file; geometry and refusals are decided here, each naming the file.
// Bytes in, never paths, so it runs in every runtime; src/io/dicom-file.ts reads folders and files.

import dcmjs from 'dcmjs';
import type { Vec3, Volume } from '../volume/volume.ts';

/** The source series the label map was computed on: geometry in patient coordinates (LPS) and identifiers. */
export interface DicomSource {
  /** columns (i), rows (j), slices (k) of the label map, i fastest */
  dimensions: [number, number, number];
  /** [column spacing, row spacing, slice spacing] in mm */
  spacing: [number, number, number];
  /** ImagePositionPatient of slice 0 */
  origin: [number, number, number];
  /** row cosines (increasing i), column cosines (increasing j), scan axis (increasing k) */
  direction: number[];
  studyInstanceUID: string;
  seriesInstanceUID: string;
  frameOfReferenceUID: string;
  /** the frame of reference's PositionReferenceIndicator (e.g. 'XY'); empty when the source has none */
  positionReferenceIndicator?: string;
  /** SOP class and SOP instance UID of the source image of each slice k */
  sopClassUID: string;
  sopInstanceUIDs: string[];
  patient?: { name?: string; id?: string; birthDate?: string; sex?: string };
  study?: { date?: string; time?: string; id?: string; accessionNumber?: string; referringPhysicianName?: string };
}

export type DicomErrorCode =
  | 'io'
  | 'empty'
  | 'not-dicom'
  | 'compressed'
  | 'multi-frame'
  | 'mixed-series'
  | 'missing'
  | 'pixels'
  | 'spacing'
  | 'tilt';

/** A series glocal refuses: `source` is the file (or instance name) concerned, the message says why. */
export class DicomError extends Error {
  override readonly name = 'DicomError';
  readonly code: DicomErrorCode;
  readonly source: string;
  constructor(code: DicomErrorCode, source: string, detail: string, options?: { cause?: unknown }) {
    super(`${source}: ${detail}`, options);
    this.code = code;
    this.source = source;
  }
}

/** One instance: its bytes and a name for messages (a file path, or e.g. a DICOMweb instance URL). */
export interface DicomInstance {
  name: string;
  bytes: ArrayBuffer | Uint8Array;
}

export interface ReadDicomOptions {
  /** the volume's `source` (default: the first instance's name) */
  name?: string;
  /** largest relative difference between a slice gap and the series' mean gap (default 0.01) */
  spacingTolerance?: number;
  /** called with the geometry before any voxel is decoded: throw to refuse a series too large to use */
  checkHeader?: (header: Omit<Volume, 'data'>) => void;
}

/** A volume read from DICOM: a Volume plus the identifiers and patient geometry of its series. */
export interface DicomVolume extends Volume {
  dicom: DicomSource;
}

const UNCOMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2': 'implicit VR little endian',
  '1.2.840.10008.1.2.1': 'explicit VR little endian',
  '1.2.840.10008.1.2.1.99': 'deflated explicit VR little endian',
};
const OTHER_SYNTAXES: Record<string, string> = {
  '1.2.840.10008.1.2.2': 'explicit VR big endian (retired)',
  '1.2.840.10008.1.2.5': 'RLE lossless',
  '1.2.840.10008.1.2.4.50': 'JPEG baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG extended',
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K lossless',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
};

/** Positions closer than this along the slice normal (mm) are the same slice. */
const SAME_POSITION_MM = 1e-3;
/** Largest in-plane drift of a slice from the first one, in mm per mm along the normal (0.057°) plus rounding. */
const SHEAR_PER_MM = 1e-3,
  SHEAR_SLACK_MM = 0.02;

type Dataset = Record<string, any>;

/** What one instance contributes, checked on its own. */
interface Parsed {
  name: string;
  ds: Dataset;
  position: Vec3;
  orientation: number[];
  pixelSpacing: [number, number];
}

/**
 * Reads a DICOM series (one Part 10 file per slice, any order) into a volume. Refuses, with a DicomError naming
 * the file: non-DICOM bytes, compressed transfer syntaxes, multi-frame objects, colour images, instances of
 * several series or grids, several images at one position, slice gaps that differ by more than
 * `spacingTolerance`, and slices sheared within their plane (gantry tilt).
 */
export function readDicomSeries(
  instances: (DicomInstance | ArrayBuffer | Uint8Array)[],
  opts: ReadDicomOptions = {},
): DicomVolume {
  const named = instances.map(
    (x, n): DicomInstance =>
      x instanceof ArrayBuffer || x instanceof Uint8Array ? { name: `instance ${n + 1}`, bytes: x } : x,
  );
  if (named.length === 0) throw new DicomError('empty', opts.name ?? 'DICOM series', 'no instances to read');
  const parsed = named.map(parseInstance);
  parsed.forEach((p) => sameSeries(parsed[0], p));
  const normal = cross(parsed[0].orientation.slice(0, 3), parsed[0].orientation.slice(3, 6));
  const along = (p: Parsed) => dot(p.position, normal);
  const slices = [...parsed].sort((a, b) => along(a) - along(b));
  const step = sliceStep(slices, normal, opts.spacingTolerance ?? 0.01);
  const first = slices[0].ds,
    [rowSpacing, colSpacing] = slices[0].pixelSpacing;
  const dims: Vec3 = [first.Columns, first.Rows, slices.length],
    spacing: Vec3 = [colSpacing, rowSpacing, step];
  const [r, c] = [slices[0].orientation.slice(0, 3), slices[0].orientation.slice(3, 6)],
    o = slices[0].position;
  // LPS: x = o + i·colSpacing·r + j·rowSpacing·c + k·step·n; RAS negates the first two rows
  const lps = [0, 1, 2].map((a) => [r[a] * colSpacing, c[a] * rowSpacing, normal[a] * step, o[a]]);
  const affine = [...lps[0].map((x) => -x), ...lps[1].map((x) => -x), ...lps[2], 0, 0, 0, 1].map((x) => x + 0);
  const source = opts.name ?? named[0].name;
  opts.checkHeader?.({ dims, spacing, affine, source });
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  slices.forEach((s, k) => decodeSlice(s, data.subarray(k * dims[0] * dims[1], (k + 1) * dims[0] * dims[1])));
  return { data, dims, spacing, affine, source, dicom: dicomSource(slices, dims, spacing, normal) };
}

function parseInstance({ name, bytes }: DicomInstance): Parsed {
  const buffer = bytes instanceof Uint8Array ? ownBuffer(bytes) : bytes;
  let file: { dict: object; meta: object };
  try {
    file = quietly(() => dcmjs.data.DicomMessage.readFile(buffer));
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new DicomError('not-dicom', name, `not a readable DICOM Part 10 file (${why})`, { cause: e });
  }
  const { naturalizeDataset } = dcmjs.data.DicomMetaDictionary;
  const syntax = String(naturalizeDataset(file.meta).TransferSyntaxUID ?? '');
  if (!UNCOMPRESSED[syntax]) {
    const what = OTHER_SYNTAXES[syntax] ?? 'an unknown transfer syntax';
    throw new DicomError(
      'compressed',
      name,
      `transfer syntax ${syntax} (${what}) is not supported: glocal reads ` +
        'uncompressed pixel data only; decompress the series first (e.g. dcmtk: dcmdjpeg, or gdcmconv --raw)',
    );
  }
  const ds = naturalizeDataset(file.dict);
  const frames = Number(ds.NumberOfFrames ?? 1);
  if (frames > 1) {
    throw new DicomError(
      'multi-frame',
      name,
      `a multi-frame object (${frames} frames, SOP class ${ds.SOPClassUID}) ` +
        'is not supported: glocal reads series of single-frame instances',
    );
  }
  if (Number(ds.SamplesPerPixel ?? 1) !== 1) {
    throw new DicomError(
      'pixels',
      name,
      `${ds.SamplesPerPixel} samples per pixel (${ds.PhotometricInterpretation}): ` +
        'only greyscale images are supported',
    );
  }
  for (const tag of ['Rows', 'Columns', 'BitsAllocated', 'PixelData']) {
    if (ds[tag] === undefined) throw new DicomError('missing', name, `no ${tag}: not an image instance`);
  }
  const position = numbers(ds, 'ImagePositionPatient', 3, name) as Vec3;
  const orientation = numbers(ds, 'ImageOrientationPatient', 6, name);
  const pixelSpacing = numbers(ds, 'PixelSpacing', 2, name) as [number, number];
  if (!(pixelSpacing[0] > 0 && pixelSpacing[1] > 0)) {
    throw new DicomError('missing', name, `PixelSpacing ${pixelSpacing.join('\\')} is not positive`);
  }
  const [r, c] = [orientation.slice(0, 3), orientation.slice(3, 6)];
  if (Math.abs(norm(r) - 1) > 1e-3 || Math.abs(norm(c) - 1) > 1e-3 || Math.abs(dot(r, c)) > 1e-3) {
    throw new DicomError(
      'missing',
      name,
      `ImageOrientationPatient ${orientation.join('\\')} is not two unit vectors at right angles`,
    );
  }
  return { name, ds, position, orientation: [...unit(r), ...unit(c)], pixelSpacing };
}

/** The bytes of a view as an ArrayBuffer of their own: a view (a Node Buffer from a pool, say) may sit inside a
 *  larger buffer, and Buffer's slice() shares it rather than copying. */
function ownBuffer(view: Uint8Array): ArrayBuffer {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer) {
    return view.buffer;
  }
  const copy = new Uint8Array(view.byteLength);
  copy.set(view);
  return copy.buffer;
}

interface Logger {
  getLevel(): number;
  setLevel(level: number | 'silent', persist: boolean): void;
}
const dcmjsLog = (dcmjs as unknown as { log?: { getLogger(name: string): Logger } }).log;

/** Runs a dcmjs read with its validation log silenced: it reports every implicit-VR PixelData ("Invalid vr type
 *  ox - using OW"), once per slice, which is the standard's own ambiguity, not a fault of the file. */
function quietly<T>(read: () => T): T {
  const logger = dcmjsLog?.getLogger('validation.dcmjs'),
    level = logger?.getLevel();
  logger?.setLevel('silent', false);
  try {
    return read();
  } finally {
    if (level !== undefined) logger?.setLevel(level, false);
  }
}

/** A multi-valued numeric attribute, whether dcmjs gave an array, a number or a backslash-separated string. */
function numbers(ds: Dataset, tag: string, n: number, name: string): number[] {
  const raw = ds[tag];
  const values = (
    Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split('\\') : raw === undefined ? [] : [raw]
  ).map(Number);
  if (values.length !== n || !values.every(Number.isFinite)) {
    throw new DicomError(
      'missing',
      name,
      raw === undefined
        ? `no ${tag}: glocal needs the slice geometry`
        : `${tag} is ${JSON.stringify(raw)}, expected ${n} numbers`,
    );
  }
  return values;
}

/** Refuses an instance that does not share the first one's series, frame of reference and grid. */
function sameSeries(a: Parsed, b: Parsed): void {
  const mixed = (what: string, x: unknown, y: unknown) =>
    new DicomError(
      'mixed-series',
      b.name,
      `${what} ${x} differs from ${a.name}'s ${y}: a folder or list must hold one series on one grid`,
    );
  for (const tag of ['SeriesInstanceUID', 'FrameOfReferenceUID', 'Rows', 'Columns', 'BitsAllocated']) {
    if (String(a.ds[tag]) !== String(b.ds[tag])) throw mixed(tag, b.ds[tag], a.ds[tag]);
  }
  if (a.orientation.some((x, n) => Math.abs(x - b.orientation[n]) > 1e-4)) {
    throw mixed('ImageOrientationPatient', b.orientation.join('\\'), a.orientation.join('\\'));
  }
  if (a.pixelSpacing.some((x, n) => Math.abs(x - b.pixelSpacing[n]) > 1e-4 * x)) {
    throw mixed('PixelSpacing', b.pixelSpacing.join('\\'), a.pixelSpacing.join('\\'));
  }
}

/** The slice gap along the normal of slices sorted along it, after refusing duplicates, uneven gaps and shear. */
function sliceStep(slices: Parsed[], normal: number[], tolerance: number): number {
  const along = slices.map((s) => dot(s.position, normal)),
    n = slices.length;
  if (n === 1) {
    const ds = slices[0].ds,
      step = Number(ds.SpacingBetweenSlices ?? ds.SliceThickness ?? 1);
    return step > 0 ? step : 1;
  }
  for (let k = 1; k < n; k++) {
    if (along[k] - along[k - 1] < SAME_POSITION_MM) {
      throw new DicomError(
        'mixed-series',
        slices[k].name,
        `at the same position as ${slices[k - 1].name}: several ` +
          'images per slice (echoes, phases, or two series) cannot form one volume',
      );
    }
  }
  // gaps are compared with the median one, so that the message names the odd gap, not its neighbours
  const gaps = along.slice(1).map((x, k) => x - along[k]),
    typical = [...gaps].sort((a, b) => a - b)[gaps.length >> 1];
  gaps.forEach((gap, g) => {
    if (Math.abs(gap - typical) > tolerance * typical) {
      throw new DicomError(
        'spacing',
        slices[g + 1].name,
        `${+gap.toFixed(4)} mm from ${slices[g].name} where the ` +
          `series' slices are ${+typical.toFixed(4)} mm apart: non-uniform slice spacing (beyond ${tolerance * 100}%) ` +
          'is not supported; a slice may be missing',
      );
    }
  });
  for (let k = 1; k < n; k++) {
    const offset = slices[k].position.map((x, a) => x - slices[0].position[a]),
      d = dot(offset, normal);
    const drift = norm(offset.map((x, a) => x - d * normal[a]));
    if (drift > SHEAR_SLACK_MM + SHEAR_PER_MM * d) {
      const degrees = (Math.atan2(drift, d) * 180) / Math.PI,
        tilt = slices[k].ds.GantryDetectorTilt;
      throw new DicomError(
        'tilt',
        slices[k].name,
        `the slices are sheared by ${degrees.toFixed(2)}° (gantry tilt` +
          `${tilt !== undefined ? `, GantryDetectorTilt ${tilt}` : ''}): this slice lies ${drift.toFixed(3)} mm off ` +
          `the normal through ${slices[0].name}; resample the series onto an orthogonal grid first (e.g. dcm2niix)`,
      );
    }
  }
  return (along[n - 1] - along[0]) / (n - 1);
}

/** One slice's stored values → float32 after the bits in use, the sign and RescaleSlope/RescaleIntercept. */
function decodeSlice(s: Parsed, out: Float32Array): void {
  const ds = s.ds,
    n = out.length,
    bits = Number(ds.BitsAllocated),
    signed = Number(ds.PixelRepresentation) === 1;
  const stored = Number(ds.BitsStored ?? bits),
    raw = Array.isArray(ds.PixelData) ? ds.PixelData[0] : ds.PixelData;
  const buffer =
    raw instanceof ArrayBuffer ? raw : ownBuffer(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  const bytes = bits / 8;
  if (![8, 16, 32].includes(bits) || !(stored > 0 && stored <= bits)) {
    throw new DicomError('pixels', s.name, `BitsAllocated ${bits} with BitsStored ${stored} is not supported`);
  }
  if (buffer.byteLength < n * bytes) {
    throw new DicomError(
      'pixels',
      s.name,
      `PixelData holds ${buffer.byteLength} bytes, ${ds.Rows}×${ds.Columns} ` +
        `pixels of ${bits} bits need ${n * bytes}`,
    );
  }
  const values =
    bits === 8
      ? new Uint8Array(buffer, 0, n)
      : bits === 16
        ? new Uint16Array(buffer.slice(0, 2 * n))
        : new Uint32Array(buffer.slice(0, 4 * n));
  const slope = Number(ds.RescaleSlope ?? 1),
    intercept = Number(ds.RescaleIntercept ?? 0);
  // the BitsStored low bits hold the value (higher ones may carry overlays); signed values are two's complement
  const shift = 32 - stored;
  for (let p = 0; p < n; p++) {
    const v = signed ? (values[p] << shift) >> shift : (values[p] << shift) >>> shift;
    out[p] = v * slope + intercept;
  }
}

/** The identifiers, patient geometry and study of the sorted slices: what dicomSeg needs to refer to them. */
function dicomSource(slices: Parsed[], dims: Vec3, spacing: Vec3, normal: number[]): DicomSource {
  const ds = slices[0].ds,
    text = (x: unknown) => (x === undefined ? undefined : personName(x));
  return {
    dimensions: dims,
    spacing,
    origin: slices[0].position,
    direction: [...slices[0].orientation, ...normal],
    studyInstanceUID: ds.StudyInstanceUID,
    seriesInstanceUID: ds.SeriesInstanceUID,
    frameOfReferenceUID: ds.FrameOfReferenceUID,
    positionReferenceIndicator: text(ds.PositionReferenceIndicator),
    sopClassUID: ds.SOPClassUID,
    sopInstanceUIDs: slices.map((s) => s.ds.SOPInstanceUID),
    patient: {
      name: text(ds.PatientName),
      id: text(ds.PatientID),
      birthDate: text(ds.PatientBirthDate),
      sex: text(ds.PatientSex),
    },
    study: {
      date: text(ds.StudyDate),
      time: text(ds.StudyTime),
      id: text(ds.StudyID),
      accessionNumber: text(ds.AccessionNumber),
      referringPhysicianName: text(ds.ReferringPhysicianName),
    },
  };
}

/** dcmjs gives person names as [{ Alphabetic }] and other strings as themselves or one-element arrays. */
function personName(x: unknown): string {
  const v = Array.isArray(x) ? x[0] : x;
  if (v && typeof v === 'object' && 'Alphabetic' in v) return String((v as { Alphabetic: unknown }).Alphabetic);
  return String(v ?? '');
}

const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const norm = (a: number[]) => Math.sqrt(dot(a, a));
const unit = (a: number[]) => a.map((x) => x / norm(a));
const cross = (a: number[], b: number[]) =>
  unit([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]);
