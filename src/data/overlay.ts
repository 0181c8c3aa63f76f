// The overlay PNG (train --png, segment --png): one slice at the input's own resolution, large enough to judge
// boundaries: the image, the prediction and (when there is one) the ground truth side by side, upscaled
// nearest-neighbour to at least 512 px a panel (non-square pixels keep their physical aspect), with a title
// (volume, slice, size), panel titles and a legend of the class names in their colours. Class areas are tinted and their boundaries drawn in full colour.
import { encode } from 'fast-png';
import type { PreparedVolume } from './pipeline.ts';
import { toCanonical } from '../volume/orient.ts';
import { drawText, fillRect, GLYPH_H, type Raster, textWidth } from './png-text.ts';
// the classes' colours shared with the app, the viewer adapters and the DICOM SEG
import { LABEL_COLOURS as COLOURS } from '../viewers/colours.ts';

/** One slice of a prepared volume on its native grid (working orientation: x fastest, nx × ny). */
export interface OverlaySlice {
  name: string;
  z: number;
  nz: number;
  nx: number;
  ny: number;
  /** mm per pixel along x and y */
  spacing: [number, number];
  image: Float32Array;
  predicted: ArrayLike<number>;
  truth: ArrayLike<number> | null;
}

/** Slice `z` (default: the middle) of `p`'s image, its predicted labels (working orientation) and its truth. */
export function overlaySlice(p: PreparedVolume, predicted: ArrayLike<number>, z = Math.floor(p.nz / 2)): OverlaySlice {
  const canon = toCanonical(p.original).volume,
    axis = p.back.axis,
    d = canon.dims;
  const [a, b] = [0, 1, 2].filter((i) => i !== axis),
    st = [1, d[0], d[0] * d[1]];
  const [nx, ny] = [d[a], d[b]],
    P = nx * ny,
    image = new Float32Array(P);
  for (let y = 0; y < ny; y++)
    for (let x = 0; x < nx; x++) image[x + nx * y] = canon.data[x * st[a] + y * st[b] + z * st[axis]];
  const cut = (v: ArrayLike<number>) => Array.prototype.slice.call(v, z * P, (z + 1) * P) as number[];
  return {
    name: p.name,
    z,
    nz: p.nz,
    nx,
    ny,
    spacing: [canon.spacing[a], canon.spacing[b]],
    image,
    predicted: cut(predicted),
    truth: p.nativeLabels && cut(p.nativeLabels),
  };
}

const SCALE = 2, // text: 10×14 px glyphs
  LINE = (GLYPH_H + 3) * SCALE,
  MARGIN = 12,
  WHITE = [235, 235, 235],
  BACKGROUND = [24, 24, 24];

/** The image's grey levels: its 1st to 99th percentile over 0..255 (a display window, not the network's). */
function greyLevels(image: Float32Array): Uint8Array {
  const sorted = Float32Array.from(image).sort(),
    lo = sorted[Math.floor(0.01 * (sorted.length - 1))],
    hi = sorted[Math.floor(0.99 * (sorted.length - 1))];
  return Uint8Array.from(image, (v) => Math.max(0, Math.min(255, Math.round((255 * (v - lo)) / (hi - lo || 1)))));
}

/** Draws one panel at (x0, y0), fx × fy screen pixels per voxel, +y up (anterior / superior at the top in RAS). */
function drawPanel(
  r: Raster,
  s: OverlaySlice,
  grey: Uint8Array,
  labels: ArrayLike<number> | null,
  at0: [number, number],
  zoom: Zoom,
) {
  const { nx, ny } = s,
    [x0, y0] = at0,
    { fx, fy, pw, ph } = zoom;
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= nx || y >= ny ? -1 : labels![x + nx * y]);
  const colour = (x: number, y: number) => {
    const g = grey[x + nx * y],
      lab = labels ? at(x, y) : 0;
    if (lab <= 0) return [g, g, g];
    const k = COLOURS[lab % COLOURS.length],
      edge = [at(x - 1, y), at(x + 1, y), at(x, y - 1), at(x, y + 1)].some((n) => n !== lab);
    return edge ? [...k] : k.map((v) => Math.round(0.55 * g + 0.45 * v));
  };
  // voxel column and row of each screen column and row: nearest neighbour at any (non-integer) zoom
  const col = Array.from({ length: pw }, (_, u) => Math.min(nx - 1, Math.floor(u / fx))),
    row = Array.from({ length: ph }, (_, v) => Math.min(ny - 1, Math.floor(v / fy)));
  for (let v = 0; v < ph; v++) {
    const y = ny - 1 - row[v];
    for (let u = 0; u < pw; u++) fillRect(r, x0 + u, y0 + v, 1, 1, colour(col[u], y));
  }
}

/** Screen pixels per voxel: an integer f on the finer axis (at least 512 px across), the other by the spacing. */
interface Zoom {
  f: number;
  fx: number;
  fy: number;
  pw: number;
  ph: number;
}

function zoomOf(s: OverlaySlice): Zoom {
  const [sx, sy] = s.spacing,
    fine = Math.min(sx, sy),
    square = squarePixels(s);
  const f = Math.max(1, Math.ceil(512 / ((s.nx * sx) / fine))),
    // the finer axis (both, for square pixels) exactly f: (f·s)/s may round to f + 1 ulp and shift every edge
    fx = sx === fine || square ? f : (f * sx) / fine,
    fy = sy === fine || square ? f : (f * sy) / fine;
  return { f, fx, fy, pw: Math.round(s.nx * fx), ph: Math.round(s.ny * fy) };
}

/** Spacings equal to 1 part in 10⁴ (an oblique affine's spacings can differ in their last bits). */
const squarePixels = (s: OverlaySlice) => Math.abs(s.spacing[0] - s.spacing[1]) <= 1e-4 * Math.max(...s.spacing);

/** Legend entries (a swatch, then 'k name') flowed into lines no wider than `width`: their positions. */
function legendLayout(classes: string[], width: number) {
  const items: { k: number; x: number; line: number }[] = [];
  let x = MARGIN,
    line = 0;
  classes.forEach((name, k) => {
    if (k === 0) return;
    const w = LINE + textWidth(`${k} ${name}`, SCALE) + 3 * SCALE * 6;
    if (x + w > width - MARGIN && x > MARGIN) [x, line] = [MARGIN, line + 1];
    items.push({ k, x, line });
    x += w;
  });
  return { items, lines: line + 1 };
}

/** The PNG of `s`, its classes named by `classes` (background first). */
export function renderOverlay(s: OverlaySlice, classes: string[]): Uint8Array {
  const zoom = zoomOf(s),
    { f, pw, ph } = zoom;
  const panels: [string, ArrayLike<number> | null][] = [
    ['image', null],
    ['prediction', s.predicted],
    ...(s.truth ? [['ground truth', s.truth] as [string, ArrayLike<number>]] : []),
  ];
  const width = MARGIN + panels.length * (pw + MARGIN),
    legend = legendLayout(classes, width),
    top = MARGIN + 2 * LINE + SCALE * 2,
    height = top + ph + MARGIN + legend.lines * LINE + MARGIN;
  const r: Raster = { width, height, rgb: new Uint8Array(width * height * 3) };
  fillRect(r, 0, 0, width, height, BACKGROUND);
  const [sx, sy] = s.spacing,
    shown = squarePixels(s)
      ? f > 1
        ? `, shown x${f}`
        : ''
      : `, ${+sx.toFixed(3)}x${+sy.toFixed(3)} mm pixels shown to scale`;
  const size = `${s.nx}x${s.ny} px${shown}`;
  drawText(r, `${s.name}: slice ${s.z + 1} of ${s.nz} (${size})`, MARGIN, MARGIN, SCALE, WHITE);
  const grey = greyLevels(s.image);
  panels.forEach(([title, labels], i) => {
    const x0 = MARGIN + i * (pw + MARGIN);
    drawText(r, title, x0, MARGIN + LINE, SCALE, WHITE);
    drawPanel(r, s, grey, labels, [x0, top], zoom);
  });
  for (const it of legend.items) {
    const y = top + ph + MARGIN + it.line * LINE;
    fillRect(r, it.x, y, GLYPH_H * SCALE, GLYPH_H * SCALE, COLOURS[it.k % COLOURS.length]);
    drawText(r, `${it.k} ${classes[it.k]}`, it.x + LINE, y, SCALE, WHITE);
  }
  return encode({ width, height, data: r.rgb, channels: 3, depth: 8 });
}

/** The overlay of `p`'s slice `z` with the labels predicted for it (native grid, working orientation). */
export const overlayPng = (p: PreparedVolume, predicted: ArrayLike<number>, classes: string[], z?: number) =>
  renderOverlay(overlaySlice(p, predicted, z), classes);
