// One colour per class everywhere a label map is shown (issue 28, item 11): the overlay PNG, the viewer adapters'
// segment tables, NiiVue's label lookup table and the DICOM SEG's RecommendedDisplayCIELabValue all take
// src/viewers/colours.ts. The app's legend and overlay are checked against the same table in test/app-e2e.ts.

import { type TestCase, assert } from '../harness.ts';
import dcmjs from 'dcmjs';
import { decode } from 'fast-png';
import { LABEL_COLOURS, SEGMENT_COLOURS, labelLut, segmentColour, type Rgb } from '../../src/viewers/colours.ts';
import { SEGMENT_COLORS, segments } from '../../src/viewers/adapters.ts';
import { dicomSeg, rgbToDicomLab, type DicomSource } from '../../src/viewers/dicom-seg.ts';
import { renderOverlay, type OverlaySlice } from '../../src/data/overlay.ts';
import { seriesIds } from './dicom-seg.ts';

const CLASSES = ['background', 'RV', 'myocardium', 'LV', 'a', 'b', 'c', 'd', 'e', 'f'];
const same = <T>(a: ArrayLike<T>, b: ArrayLike<T>) =>
  a.length === b.length && Array.from(a).every((x, i) => x === b[i]);

/** Whether `px` is colour `c` blended over black (the overlay PNG draws on a zero image): px ≈ α·c, α in (0.2, 1]. */
function blendOf(px: Rgb, c: Rgb): boolean {
  const alpha = Math.max(...px) / Math.max(...c);
  return alpha > 0.2 && alpha <= 1.01 && px.every((v, i) => Math.abs(v - alpha * c[i]) <= 2);
}

/** A black 32×32 slice whose prediction and truth are class ⌊x/4⌋ mod K: every class in one PNG. */
function stripes(K: number, spacing: [number, number] = [1, 1], S = 32): OverlaySlice {
  const labels = Array.from({ length: S * S }, (_, p) => Math.floor((p % S) / 4) % K);
  return {
    name: 'stripes',
    z: 0,
    nz: 1,
    nx: S,
    ny: S,
    spacing,
    image: new Float32Array(S * S),
    predicted: labels,
    truth: labels,
  };
}

const source = (slices: number): DicomSource => ({
  dimensions: [4, 4, slices],
  spacing: [1, 1, 2],
  origin: [0, 0, 0],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  ...seriesIds(slices),
});

export const colourCases: TestCase[] = [
  {
    name: 'colours: adapters, NiiVue label table and 8-bit table agree with segmentColour (foreground never black)',
    async run() {
      assert(SEGMENT_COLORS === SEGMENT_COLOURS, 'adapters.ts keeps a colour table of its own');
      for (const s of segments(CLASSES))
        assert(same(s.color, segmentColour(s.segmentIndex)), `segment ${s.segmentIndex}: ${s.color}`);
      const lut = labelLut(CLASSES);
      assert(lut.min === 0 && lut.max === CLASSES.length - 1 && same(lut.labels, CLASSES), 'label table range/names');
      for (let k = 0; k < CLASSES.length; k++) {
        const want = [...segmentColour(k), k ? 255 : 0];
        assert(
          same(lut.lut.subarray(4 * k, 4 * k + 4), want),
          `NiiVue label ${k}: ${lut.lut.subarray(4 * k, 4 * k + 4)}`,
        );
      }
      for (let k = 1; k < 600; k++) {
        assert(
          segmentColour(k).some((x) => x > 0),
          `label ${k} is black`,
        );
        assert(same(LABEL_COLOURS[k % LABEL_COLOURS.length], segmentColour(k % 256)), `LABEL_COLOURS[${k}]`);
      }
    },
  },
  {
    name: 'colours: the overlay PNG draws each class in its shared colour (prediction and ground truth)',
    async run() {
      const K = 8;
      const png = decode(renderOverlay(stripes(K), CLASSES.slice(0, K))),
        ch = png.channels,
        n = png.width * png.height;
      for (let k = 1; k < K; k++) {
        let hits = 0;
        for (let p = 0; p < n; p++) {
          const px: Rgb = [png.data[p * ch], png.data[p * ch + 1], png.data[p * ch + 2]];
          if (blendOf(px, segmentColour(k))) hits++;
        }
        // tinted areas and full-colour boundaries in two panels (prediction, ground truth), and the legend swatch
        assert(hits >= 2 * 4 * 32, `class ${k} (${segmentColour(k)}): ${hits} pixels of its colour in the PNG`);
      }
    },
  },
  {
    name: 'overlay PNG: non-square pixels are drawn to scale (1×2 mm twice as tall as 1×1 mm, 2×1 mm half as tall)',
    async run() {
      const [square, tall, wide] = [undefined, [1, 2], [2, 1]].map((sp) =>
        decode(renderOverlay(stripes(4, sp as [number, number] | undefined), CLASSES.slice(0, 4))),
      );
      // 32×32 voxels: 16 screen pixels each on a square grid (512 px); the coarser axis gets twice the pixels
      assert(
        tall.width === square.width && tall.height - square.height === 32 * 16,
        `1×2 mm: ${tall.width}×${tall.height} against ${square.width}×${square.height}`,
      );
      assert(
        wide.width === square.width && square.height - wide.height === 32 * 8,
        `2×1 mm: ${wide.width}×${wide.height} against ${square.width}×${square.height}`,
      );
      // square 0.8 mm pixels at zoom 3 (200 columns): (3·0.8)/0.8 is 3 + 1 ulp, which must not shift any edge
      const png = (sp: [number, number]) => renderOverlay(stripes(4, sp, 200), CLASSES.slice(0, 4));
      const a = png([0.8, 0.8]),
        b = png([1, 1]);
      assert(a.length === b.length && a.every((v, i) => v === b[i]), '0.8 mm square pixels are drawn unlike 1 mm ones');
    },
  },
  {
    name: 'colours: the DICOM SEG recommends each segment in its shared colour (CIELab)',
    async run() {
      const labels = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => 1 + (i % 3));
      const bytes = dicomSeg(labels, source(3), segments(CLASSES.slice(0, 4)));
      const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
        dcmjs.data.DicomMessage.readFile(bytes.slice().buffer).dict,
      );
      const segs = ds.SegmentSequence as { SegmentNumber: number; RecommendedDisplayCIELabValue: number[] }[];
      assert(segs.length === 3, `${segs.length} segments`);
      for (const s of segs) {
        const want = rgbToDicomLab(segmentColour(s.SegmentNumber));
        assert(
          same(s.RecommendedDisplayCIELabValue, want),
          `segment ${s.SegmentNumber}: ${s.RecommendedDisplayCIELabValue} ≠ ${want}`,
        );
      }
    },
  },
];
