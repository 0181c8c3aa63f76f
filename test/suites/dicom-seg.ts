// DICOM SEG export (issue 5): a label map written by dicomSeg and read back with dcmjs gives the same labels,
// frame by frame, with each frame's position and source image, the segment table and the study of the source.

import { type TestCase, assert } from '../harness.ts';
import dcmjs from 'dcmjs';
import { dicomSeg, type DicomSource } from '../../src/viewers/dicom-seg.ts';
import { Rng } from '../../src/util/random.ts';

const dicomSegCase: TestCase = {
  name: 'DICOM SEG: a label map round-trips through dcmjs (frames, bits, positions, source references, segments)',
  async run() {
    const [cols, rows, slices] = [13, 9, 5], P = cols * rows, rng = new Rng(4);
    const labels = new Uint8Array(P * slices);
    for (let k = 0; k < slices; k++) for (let p = 0; p < P; p++) labels[k * P + p] = k === 2 ? 0 : rng.int(4) === 0 ? 0 : 1 + rng.int(3);
    labels.fill(0, 4 * P, 5 * P); // slice 4: only segment 3, a few pixels
    labels[4 * P + 7] = labels[4 * P + 50] = 3;
    const s = Math.SQRT1_2;
    const source: DicomSource = {
      dimensions: [cols, rows, slices], spacing: [1.25, 1.5, 8], origin: [-100, 20.5, 33], direction: [s, s, 0, -s, s, 0, 0, 0, 1],
      studyInstanceUID: '2.25.1', seriesInstanceUID: '2.25.2', frameOfReferenceUID: '2.25.3', sopClassUID: '1.2.840.10008.5.1.4.1.1.4',
      sopInstanceUIDs: Array.from({ length: slices }, (_, k) => `2.25.10${k}`), patient: { name: 'Doe^Jane', id: 'P1' },
    };
    const segments = [1, 2, 3].map((i) => ({ segmentIndex: i, label: ['RV', 'myocardium', 'LV'][i - 1], color: [[230, 60, 60], [60, 200, 80], [70, 110, 240]][i - 1] as [number, number, number] }));
    const bytes = dicomSeg(labels, source, segments);
    const file = dcmjs.data.DicomMessage.readFile(bytes.slice().buffer);
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(file.dict);
    assert(ds.SOPClassUID === '1.2.840.10008.5.1.4.1.1.66.4' && ds.Modality === 'SEG' && ds.SegmentationType === 'BINARY', 'not a binary SEG');
    assert(ds.StudyInstanceUID === '2.25.1' && ds.FrameOfReferenceUID === '2.25.3' && ds.PatientID === 'P1', 'source study not carried');
    assert(ds.SegmentSequence.map((x: any) => `${x.SegmentNumber}:${x.SegmentLabel}`).join() === '1:RV,2:myocardium,3:LV', 'segment table');
    const frames = ds.PerFrameFunctionalGroupsSequence;
    // segments 1 and 2 on slices 0, 1, 3; segment 3 on 0, 1, 3, 4; slice 2 is empty
    assert(Number(ds.NumberOfFrames) === 10 && frames.length === 10, `${ds.NumberOfFrames} frames, expected 10`);
    const pixels = new Uint8Array(Array.isArray(ds.PixelData) ? ds.PixelData[0] : ds.PixelData);
    const back = new Uint8Array(P * slices);
    frames.forEach((f: any, n: number) => {
      const seg = f.SegmentIdentificationSequence.ReferencedSegmentNumber ?? f.SegmentIdentificationSequence[0].ReferencedSegmentNumber;
      const pos = (f.PlanePositionSequence[0] ?? f.PlanePositionSequence).ImagePositionPatient.map(Number);
      const k = Math.round((pos[2] - 33) / 8);
      assert([0, 1].every((a) => Math.abs(pos[a] - source.origin[a]) < 1e-6), `frame ${n}: position ${pos}`);
      const src = (f.DerivationImageSequence[0] ?? f.DerivationImageSequence).SourceImageSequence;
      assert((src[0] ?? src).ReferencedSOPInstanceUID === source.sopInstanceUIDs[k], `frame ${n}: source image`);
      for (let p = 0; p < P; p++) { const b = n * P + p; if (pixels[b >> 3] & (1 << (b & 7))) back[k * P + p] = seg; }
    });
    assert(back.every((v, i) => v === labels[i]), 'the labels read back differ');
  },
};

export const dicomSegCases: TestCase[] = [dicomSegCase];
