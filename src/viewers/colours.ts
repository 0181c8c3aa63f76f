// The classes' display colours, one table for every place a label map is shown: the app's NiiVue overlay and
// legend, the overlay PNG (src/data/overlay.ts), the viewer adapters' segment tables and the DICOM SEG's
// RecommendedDisplayCIELabValue. A second copy drifted before ([60,200,90] beside [60,200,80]); keep only this one.

export type Rgb = [number, number, number];

/** sRGB 0..255 by label value; 0 is background (never drawn). Values past the end wrap around, skipping 0. */
export const SEGMENT_COLOURS: readonly Rgb[] = [
  [0, 0, 0],
  [230, 60, 60],
  [60, 200, 80],
  [70, 110, 240],
  [240, 200, 40],
  [200, 80, 220],
  [60, 210, 220],
  [250, 140, 40],
];

/** The colour of label value `k` (k ≥ 1 wraps over the foreground colours, so no class is drawn black). */
export function segmentColour(k: number): Rgb {
  if (k <= 0) return SEGMENT_COLOURS[0];
  const n = SEGMENT_COLOURS.length - 1;
  return SEGMENT_COLOURS[1 + ((k - 1) % n)];
}

/** segmentColour for every 8-bit label value, for code that indexes a table (`LABEL_COLOURS[k % length]` agrees). */
export const LABEL_COLOURS: readonly Rgb[] = Array.from({ length: 256 }, (_, k) => segmentColour(k));

/** `rgb(r, g, b)` for CSS (the app's legend swatches). */
export const cssColour = (k: number): string => `rgb(${segmentColour(k).join(', ')})`;

/**
 * A NiiVue label lookup table (its `LUT`: RGBA per value from `min` to `max`, with names) for `classes`
 * (class 0 first, transparent). Built here, not with NiiVue's cmapper, so glocal needs no NiiVue import.
 */
export function labelLut(classes: readonly string[]): {
  lut: Uint8ClampedArray;
  min: number;
  max: number;
  labels: string[];
} {
  const lut = new Uint8ClampedArray(classes.length * 4);
  classes.forEach((_, k) => {
    lut.set([...segmentColour(k), k === 0 ? 0 : 255], 4 * k);
  });
  return { lut, min: 0, max: classes.length - 1, labels: [...classes] };
}
