// A label map as a DICOM Segmentation object for PACS, in either form viewers load (OHIF accepts both):
//  - binary SEG (Segmentation Storage …66.4): one 1-bit frame per segment and slice that holds the segment;
//  - label-map SEG (Label Map Segmentation Storage …66.7, DICOM Supplement 243): one 8- or 16-bit frame per slice
//    whose pixels are segment numbers.
// Each frame refers to its source image, with the patient and study of the source series. Segments carry coded
// anatomy (SNOMED CT) looked up by class name in a table a caller can extend or override. dcmjs encodes the file
// (explicit VR little endian).

import dcmjs from 'dcmjs';
import type { SegmentInfo } from './adapters.ts';
import { GLOCAL_VERSION } from '../version.ts';
import type { DicomSource } from '../io/dicom.ts';

export type { DicomSource };

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
export const LABEL_MAP_SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.7';

/** A code (CodeValue, CodingSchemeDesignator, CodeMeaning). */
export interface CodedConcept {
  value: string;
  scheme: string;
  meaning: string;
}
/** What a segment is: its SegmentedPropertyCategory and SegmentedPropertyType. */
export interface SegmentCoding {
  category: CodedConcept;
  type: CodedConcept;
}

const anatomy = (value: string, meaning: string): SegmentCoding => ({
  category: { value: '123037004', scheme: 'SCT', meaning: 'Anatomical Structure' },
  type: { value, scheme: 'SCT', meaning },
});
const [RV, MYOCARDIUM, LV] = [
  anatomy('53085002', 'Right ventricle'),
  anatomy('74281007', 'Myocardium'),
  anatomy('87878005', 'Left ventricle'),
];

/** SNOMED CT codes by class name (lower case): the cardiac classes glocal's datasets name. Callers add or replace
 *  entries with `codes`; a class found in neither is coded as generic tissue. */
export const SEGMENT_CODES: Readonly<Record<string, SegmentCoding>> = {
  rv: RV,
  'right ventricle': RV,
  myocardium: MYOCARDIUM,
  myo: MYOCARDIUM,
  lv: LV,
  'left ventricle': LV,
};
const TISSUE: SegmentCoding = {
  category: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' },
  type: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' },
};

export interface DicomSegOptions {
  /** 'binary' (Segmentation Storage, the default) or 'labelmap' (Label Map Segmentation Storage) */
  type?: 'binary' | 'labelmap';
  /** codes by lower-case class name, over SEGMENT_CODES */
  codes?: Record<string, SegmentCoding>;
  /** the person who made the segmentation, as a DICOM person name ('Family^Given'); empty (unknown) by default,
   *  as no person did: the algorithm is named in each segment */
  contentCreatorName?: string;
  /** names the label map in messages */
  name?: string;
  seriesDescription?: string;
  seriesNumber?: number;
  uid?: () => string;
  now?: Date;
}

/** A decimal string (DS) fits 16 characters: 10 significant digits always do. */
const ds = (x: number) => Number(x.toPrecision(10));

const code = (c: CodedConcept) => [{ CodeValue: c.value, CodingSchemeDesignator: c.scheme, CodeMeaning: c.meaning }];

/** A valid DICOM person name: at most 3 component groups of at most 5 '^'-separated components, 64 characters
 *  each, without backslashes or control characters. */
export function isPersonName(name: string): boolean {
  const groups = name.split('=');
  return (
    groups.length <= 3 &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test is for control characters, which PN values must not hold
    !/[\\\u0000-\u001f]/.test(name) &&
    groups.every((g) => g.length <= 64 && g.split('^').length <= 5)
  );
}

/** The coding of a class name: `codes`, then SEGMENT_CODES, then generic tissue. */
export function segmentCoding(label: string, codes: Record<string, SegmentCoding> = {}): SegmentCoding {
  const key = label.trim().toLowerCase();
  return codes[key] ?? SEGMENT_CODES[key] ?? TISSUE;
}

/**
 * Encodes `labels` (values 0..K−1, i fastest) as a DICOM SEG of `source`; returns the Part 10 file bytes. A label
 * map with no voxel of any of `segments` is refused (a SEG without segments is invalid).
 */
export function dicomSeg(
  labels: ArrayLike<number>,
  source: DicomSource,
  segments: SegmentInfo[],
  o: DicomSegOptions = {},
): Uint8Array {
  const [cols, rows, slices] = source.dimensions,
    P = cols * rows,
    name = o.name ?? 'dicomSeg';
  if (labels.length !== P * slices) {
    throw new Error(`${name}: ${labels.length} label values for a ${cols}×${rows}×${slices} series`);
  }
  if (source.sopInstanceUIDs.length !== slices) {
    throw new Error(`${name}: ${source.sopInstanceUIDs.length} source instances for ${slices} slices`);
  }
  if (o.contentCreatorName !== undefined && !isPersonName(o.contentCreatorName)) {
    throw new Error(`${name}: content creator '${o.contentCreatorName}' is not a DICOM person name (Family^Given)`);
  }
  // every segment is listed (SegmentNumber runs 1, 2, … without gaps), also one the label map lacks
  const found = new Set<number>();
  for (let v = 0; v < labels.length; v++) found.add(labels[v]);
  if (!segments.some((s) => found.has(s.segmentIndex))) {
    const names = segments.map((s) => s.label).join(', ');
    throw new Error(
      `${name}: the label map holds no voxel of any segment (${names}): a DICOM SEG without ` +
        'segments is invalid, so none is written',
    );
  }
  const uid = o.uid ?? (() => dcmjs.data.DicomMetaDictionary.uid());
  const labelMap = o.type === 'labelmap',
    sopClass = labelMap ? LABEL_MAP_SEGMENTATION_STORAGE : SEGMENTATION_STORAGE;
  const sopInstanceUID = uid(),
    organization = uid();
  const content = labelMap
    ? labelMapContent(labels, source, segments, organization)
    : binaryContent(labels, source, segments, organization);
  const dataset = {
    ...header(source, o, sopClass, sopInstanceUID, uid()),
    ...content,
    SegmentSequence: segments.map((s) => {
      const c = segmentCoding(s.label, o.codes);
      return {
        SegmentNumber: s.segmentIndex,
        SegmentLabel: s.label,
        SegmentAlgorithmType: 'AUTOMATIC',
        SegmentAlgorithmName: 'glocal',
        SegmentedPropertyCategoryCodeSequence: code(c.category),
        SegmentedPropertyTypeCodeSequence: code(c.type),
        RecommendedDisplayCIELabValue: rgbToDicomLab(s.color),
      };
    }),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: organization }],
  };
  return encode(dataset, sopClass, sopInstanceUID);
}

/** The attributes every SEG of `source` shares: patient, study, series, equipment, frame of reference, geometry. */
function header(source: DicomSource, o: DicomSegOptions, sopClass: string, sopInstanceUID: string, seriesUID: string) {
  const now = o.now ?? new Date(),
    iso = now.toISOString();
  const date = iso.slice(0, 10).replace(/-/g, ''),
    time = iso.slice(11, 19).replace(/:/g, '');
  const d = source.direction,
    sp = source.spacing;
  return {
    SOPClassUID: sopClass,
    SOPInstanceUID: sopInstanceUID,
    StudyInstanceUID: source.studyInstanceUID,
    SeriesInstanceUID: seriesUID,
    FrameOfReferenceUID: source.frameOfReferenceUID,
    PositionReferenceIndicator: source.positionReferenceIndicator ?? '',
    Modality: 'SEG',
    SeriesNumber: o.seriesNumber ?? 900,
    InstanceNumber: 1,
    SeriesDescription: o.seriesDescription ?? 'glocal segmentation',
    ContentDate: date,
    ContentTime: time,
    SeriesDate: date,
    SeriesTime: time,
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    Manufacturer: 'glocal',
    ManufacturerModelName: 'glocal UNet',
    SoftwareVersions: GLOCAL_VERSION,
    DeviceSerialNumber: '1',
    PatientName: source.patient?.name ?? '',
    PatientID: source.patient?.id ?? '',
    PatientBirthDate: source.patient?.birthDate ?? '',
    PatientSex: source.patient?.sex ?? '',
    StudyDate: source.study?.date ?? '',
    StudyTime: source.study?.time ?? '',
    StudyID: source.study?.id ?? '',
    AccessionNumber: source.study?.accessionNumber ?? '',
    ReferringPhysicianName: source.study?.referringPhysicianName ?? '',
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: 'GLOCAL',
    ContentDescription: 'automatic segmentation',
    ContentCreatorName: o.contentCreatorName ?? '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: source.dimensions[1],
    Columns: source.dimensions[0],
    LossyImageCompression: '00',
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: source.seriesInstanceUID,
        ReferencedInstanceSequence: source.sopInstanceUIDs.map((_, k) => sourceImage(source, k)),
      },
    ],
    SharedFunctionalGroupsSequence: [
      {
        PixelMeasuresSequence: [
          {
            PixelSpacing: [ds(sp[1]), ds(sp[0])],
            SliceThickness: ds(sp[2]),
            SpacingBetweenSlices: ds(sp[2]),
          },
        ],
        PlaneOrientationSequence: [{ ImageOrientationPatient: d.slice(0, 6).map(ds) }],
      },
    ],
  };
}

const sourceImage = (source: DicomSource, k: number) => ({
  ReferencedSOPClassUID: source.sopClassUID,
  ReferencedSOPInstanceUID: source.sopInstanceUIDs[k],
});

/** The functional groups of the frame of slice k, and of segment `segment` in a binary SEG. */
function frameGroups(source: DicomSource, k: number, index: number[], segment?: number) {
  const d = source.direction,
    position = [0, 1, 2].map((a) => ds(source.origin[a] + k * source.spacing[2] * d[6 + a]));
  return {
    FrameContentSequence: [{ DimensionIndexValues: index }],
    PlanePositionSequence: [{ ImagePositionPatient: position }],
    ...(segment === undefined ? {} : { SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segment }] }),
    DerivationImageSequence: [
      {
        SourceImageSequence: [
          {
            ...sourceImage(source, k),
            PurposeOfReferenceCodeSequence: code(SOURCE_IMAGE_PURPOSE),
          },
        ],
        DerivationCodeSequence: code({ value: '113076', scheme: 'DCM', meaning: 'Segmentation' }),
      },
    ],
  };
}

const SOURCE_IMAGE_PURPOSE = { value: '121322', scheme: 'DCM', meaning: 'Source image for image processing operation' };

const positionDimension = (organization: string) => ({
  DimensionOrganizationUID: organization,
  DimensionIndexPointer: 0x00200032,
  FunctionalGroupPointer: 0x00209113,
  DimensionDescriptionLabel: 'ImagePositionPatient',
});

/** Binary SEG: for each segment, each slice where it is present, 1 bit per pixel packed LSB first. */
function binaryContent(labels: ArrayLike<number>, source: DicomSource, segments: SegmentInfo[], organization: string) {
  const [cols, rows, slices] = source.dimensions,
    P = cols * rows;
  const frames: { segment: number; slice: number }[] = [];
  for (const s of segments)
    for (let k = 0; k < slices; k++) {
      for (let p = 0; p < P; p++) {
        if (labels[k * P + p] === s.segmentIndex) {
          frames.push({ segment: s.segmentIndex, slice: k });
          break;
        }
      }
    }
  const bits = new Uint8Array(Math.ceil((frames.length * P) / 8));
  frames.forEach((f, n) => {
    for (let p = 0; p < P; p++) {
      if (labels[f.slice * P + p] === f.segment) {
        const b = n * P + p;
        bits[b >> 3] |= 1 << (b & 7);
      }
    }
  });
  return {
    _vrMap: { PixelData: 'OB' },
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    SegmentationType: 'BINARY',
    NumberOfFrames: frames.length,
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: organization,
        DimensionIndexPointer: 0x0062000b,
        FunctionalGroupPointer: 0x0062000a,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      positionDimension(organization),
    ],
    PerFrameFunctionalGroupsSequence: frames.map((f) =>
      frameGroups(source, f.slice, [f.segment, f.slice + 1], f.segment),
    ),
    PixelData: [bits.buffer],
  };
}

/** Label-map SEG: one frame per slice, each pixel the number of its segment (0: none), 8 bits or, past 255, 16. */
function labelMapContent(
  labels: ArrayLike<number>,
  source: DicomSource,
  segments: SegmentInfo[],
  organization: string,
) {
  const [cols, rows, slices] = source.dimensions,
    N = cols * rows * slices;
  const numbers = new Set(segments.map((s) => s.segmentIndex)),
    wide = Math.max(...numbers) > 255;
  const pixels = wide ? new Uint16Array(N) : new Uint8Array(N);
  for (let v = 0; v < N; v++) if (numbers.has(labels[v])) pixels[v] = labels[v];
  const bits = wide ? 16 : 8;
  return {
    _vrMap: { PixelData: wide ? 'OW' : 'OB' },
    BitsAllocated: bits,
    BitsStored: bits,
    HighBit: bits - 1,
    PixelRepresentation: 0,
    SegmentationType: 'LABELMAP',
    SegmentsOverlap: 'NO',
    NumberOfFrames: slices,
    DimensionIndexSequence: [positionDimension(organization)],
    PerFrameFunctionalGroupsSequence: Array.from({ length: slices }, (_, k) => frameGroups(source, k, [k + 1])),
    PixelData: [pixels.buffer],
  };
}

function encode(dataset: object, sopClass: string, sopInstanceUID: string): Uint8Array {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClass,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '2.25.3270011236511102394119312466384',
    ImplementationVersionName: `glocal ${GLOCAL_VERSION}`.slice(0, 16),
  };
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

/** sRGB (0..255) → CIELab (D65) scaled to DICOM's 16-bit unsigned encoding (PS3.3 C.10.7.1.1). */
export function rgbToDicomLab([r, g, b]: [number, number, number]): number[] {
  const lin = (c: number) => {
    c /= 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const xyz = [
    (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047,
    0.2126 * R + 0.7152 * G + 0.0722 * B,
    (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883,
  ];
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const [fx, fy, fz] = xyz.map(f);
  const L = 116 * fy - 16,
    A = 500 * (fx - fy),
    Bb = 200 * (fy - fz);
  return [Math.round((L * 65535) / 100), Math.round(((A + 128) * 65535) / 255), Math.round(((Bb + 128) * 65535) / 255)];
}
