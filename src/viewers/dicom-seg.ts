// A label map as a DICOM Segmentation object (binary SEG, Segmentation Storage 1.2.840.10008.5.1.4.1.1.66.4) for
// PACS: one frame per segment and slice that holds the segment, each frame referring to its source image, with
// the patient and study of the source series. dcmjs encodes the file (explicit VR little endian).

import dcmjs from 'dcmjs';
import type { SegmentInfo } from './adapters.ts';

const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

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
  studyInstanceUID: string; seriesInstanceUID: string; frameOfReferenceUID: string;
  /** SOP class and SOP instance UID of the source image of each slice k */
  sopClassUID: string; sopInstanceUIDs: string[];
  patient?: { name?: string; id?: string; birthDate?: string; sex?: string };
  study?: { date?: string; time?: string; id?: string; accessionNumber?: string; referringPhysicianName?: string };
}

/** A decimal string (DS) fits 16 characters: 10 significant digits always do. */
const ds = (x: number) => Number(x.toPrecision(10));

const code = (value: string, scheme: string, meaning: string) => [{ CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning }];

/** Encode `labels` (values 0..K−1, i fastest) as a binary DICOM SEG of `source`; returns the Part 10 file bytes. */
export function dicomSeg(labels: ArrayLike<number>, source: DicomSource, segments: SegmentInfo[],
  o: { seriesDescription?: string; seriesNumber?: number; uid?: () => string; now?: Date } = {}): Uint8Array {
  const [cols, rows, slices] = source.dimensions, P = cols * rows;
  if (labels.length !== P * slices) throw new Error(`dicomSeg: ${labels.length} label values for a ${cols}×${rows}×${slices} series`);
  if (source.sopInstanceUIDs.length !== slices) throw new Error(`dicomSeg: ${source.sopInstanceUIDs.length} source instances for ${slices} slices`);
  const uid = o.uid ?? (() => dcmjs.data.DicomMetaDictionary.uid());
  const now = o.now ?? new Date(), date = now.toISOString().slice(0, 10).replace(/-/g, ''), time = now.toISOString().slice(11, 19).replace(/:/g, '');
  const d = source.direction, normal = [d[6], d[7], d[8]];
  const position = (k: number) => [0, 1, 2].map((a) => ds(source.origin[a] + k * source.spacing[2] * normal[a]));

  // frames: for each segment, each slice where it is present (binary, 1 bit per pixel, packed LSB first)
  const frames: { segment: number; slice: number }[] = [];
  for (const s of segments) for (let k = 0; k < slices; k++) {
    for (let p = 0; p < P; p++) if (labels[k * P + p] === s.segmentIndex) { frames.push({ segment: s.segmentIndex, slice: k }); break; }
  }
  const bits = new Uint8Array(Math.ceil((frames.length * P) / 8));
  frames.forEach((f, n) => {
    for (let p = 0; p < P; p++) if (labels[f.slice * P + p] === f.segment) { const b = n * P + p; bits[b >> 3] |= 1 << (b & 7); }
  });
  const present = segments.filter((s) => frames.some((f) => f.segment === s.segmentIndex));
  const sopInstanceUID = uid(), dimensionOrganizationUID = uid();
  const source1 = (k: number) => ({ ReferencedSOPClassUID: source.sopClassUID, ReferencedSOPInstanceUID: source.sopInstanceUIDs[k] });

  const dataset = {
    _vrMap: { PixelData: 'OB' },
    SOPClassUID: SEGMENTATION_STORAGE, SOPInstanceUID: sopInstanceUID,
    StudyInstanceUID: source.studyInstanceUID, SeriesInstanceUID: uid(), FrameOfReferenceUID: source.frameOfReferenceUID,
    Modality: 'SEG', SeriesNumber: o.seriesNumber ?? 900, InstanceNumber: 1, SeriesDescription: o.seriesDescription ?? 'glocal segmentation',
    ContentDate: date, ContentTime: time, SeriesDate: date, SeriesTime: time, InstanceCreationDate: date, InstanceCreationTime: time,
    Manufacturer: 'glocal', ManufacturerModelName: 'glocal UNet', SoftwareVersions: 'glocal', DeviceSerialNumber: '1',
    PatientName: source.patient?.name ?? '', PatientID: source.patient?.id ?? '', PatientBirthDate: source.patient?.birthDate ?? '', PatientSex: source.patient?.sex ?? '',
    StudyDate: source.study?.date ?? '', StudyTime: source.study?.time ?? '', StudyID: source.study?.id ?? '',
    AccessionNumber: source.study?.accessionNumber ?? '', ReferringPhysicianName: source.study?.referringPhysicianName ?? '',
    ImageType: ['DERIVED', 'PRIMARY'], ContentLabel: 'GLOCAL', ContentDescription: 'automatic segmentation', ContentCreatorName: 'glocal',
    SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', Rows: rows, Columns: cols,
    BitsAllocated: 1, BitsStored: 1, HighBit: 0, PixelRepresentation: 0, LossyImageCompression: '00', SegmentationType: 'BINARY',
    NumberOfFrames: frames.length,
    ReferencedSeriesSequence: [{ SeriesInstanceUID: source.seriesInstanceUID, ReferencedInstanceSequence: source.sopInstanceUIDs.map((_, k) => source1(k)) }],
    SegmentSequence: present.map((s) => ({
      SegmentNumber: s.segmentIndex, SegmentLabel: s.label, SegmentAlgorithmType: 'AUTOMATIC', SegmentAlgorithmName: 'glocal',
      SegmentedPropertyCategoryCodeSequence: code('123037004', 'SCT', 'Anatomical Structure'),
      SegmentedPropertyTypeCodeSequence: code('85756007', 'SCT', 'Tissue'),
      RecommendedDisplayCIELabValue: rgbToDicomLab(s.color),
    })),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUID }],
    DimensionIndexSequence: [
      { DimensionOrganizationUID: dimensionOrganizationUID, DimensionIndexPointer: 0x0062000b, FunctionalGroupPointer: 0x0062000a, DimensionDescriptionLabel: 'ReferencedSegmentNumber' },
      { DimensionOrganizationUID: dimensionOrganizationUID, DimensionIndexPointer: 0x00200032, FunctionalGroupPointer: 0x00209113, DimensionDescriptionLabel: 'ImagePositionPatient' },
    ],
    SharedFunctionalGroupsSequence: [{
      PixelMeasuresSequence: [{ PixelSpacing: [ds(source.spacing[1]), ds(source.spacing[0])], SliceThickness: ds(source.spacing[2]), SpacingBetweenSlices: ds(source.spacing[2]) }],
      PlaneOrientationSequence: [{ ImageOrientationPatient: d.slice(0, 6).map(ds) }],
    }],
    PerFrameFunctionalGroupsSequence: frames.map((f) => ({
      FrameContentSequence: [{ DimensionIndexValues: [f.segment, f.slice + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: position(f.slice) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: f.segment }],
      DerivationImageSequence: [{
        SourceImageSequence: [{ ...source1(f.slice), PurposeOfReferenceCodeSequence: code('121322', 'DCM', 'Source image for image processing operation') }],
        DerivationCodeSequence: code('113076', 'DCM', 'Segmentation'),
      }],
    })),
    PixelData: [bits.buffer],
  };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: SEGMENTATION_STORAGE, MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: '1.2.840.10008.1.2.1', ImplementationClassUID: '2.25.3270011236511102394119312466384', ImplementationVersionName: 'glocal',
  };
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

/** sRGB (0..255) → CIELab (D65) scaled to DICOM's 16-bit unsigned encoding (PS3.3 C.10.7.1.1). */
export function rgbToDicomLab([r, g, b]: [number, number, number]): number[] {
  const lin = (c: number) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const xyz = [(0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047, 0.2126 * R + 0.7152 * G + 0.0722 * B, (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883];
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const [fx, fy, fz] = xyz.map(f);
  const L = 116 * fy - 16, A = 500 * (fx - fy), Bb = 200 * (fy - fz);
  return [Math.round((L * 65535) / 100), Math.round(((A + 128) * 65535) / 255), Math.round(((Bb + 128) * 65535) / 255)];
}
