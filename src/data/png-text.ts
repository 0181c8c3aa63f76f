// Text on an RGB raster for the overlay PNG's titles and legend: a 5×7 pixel font (capitals, digits, a little
// punctuation), drawn at an integer scale. No font file or canvas: the PNG is made in Node, Deno and browsers alike.

/** Each glyph: its 7 rows of 5 bits, top row first and leftmost pixel highest, as one base-36 number. */
const PACKED =
  'A76cqm29 Bf2h64ou C76btkxa Df2gwzzy Efjnugin Ffjnugi8 G76byipb H8nmknjl I6ywdqq6 J3hg6vrg K8o8aez5 L85aef4v ' +
  'M8t8nepd N8nrdgz5 O76cgs32 Pf2h63v4 Q76cgv9p Rf2h672p S7nj2num Tfcs3z44 U8nmatke V8nmatdw W8nmdpyi X8nho7qp ' +
  'Y8nho2o4 Zfb2xk4f 076dsppq 125rf3wu 27626cyn 3fbo44z2 4131183m 5fjw0eni 633a2mum 7fb2xjwo 876ceo8e 976cf0i4 ' +
  ".b0 ,9l4 :6v8800 -lrsw _v /icl5ao (11vmdfm )40bf9fs =jde68 +2b0igw %c83fz37 ×9lxzc0 '21e0lq8 ?7626cqs";

const GLYPHS = new Map(PACKED.split(' ').map((g) => [g[0], Number.parseInt(g.slice(1), 36)]));

export const GLYPH_W = 5,
  GLYPH_H = 7;

/** An RGB raster, 3 bytes a pixel, rows top to bottom. */
export interface Raster {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Fills a rectangle, clipped to the raster. */
export function fillRect(r: Raster, x0: number, y0: number, w: number, h: number, c: readonly number[]): void {
  for (let y = Math.max(0, y0); y < Math.min(r.height, y0 + h); y++)
    for (let x = Math.max(0, x0); x < Math.min(r.width, x0 + w); x++) r.rgb.set(c.slice(0, 3), 3 * (y * r.width + x));
}

/** Pixels `text` takes at `scale` (one blank column between glyphs). */
export const textWidth = (text: string, scale: number) => [...text].length * (GLYPH_W + 1) * scale;

/**
 * Draws `text` (lower case drawn as capitals; characters without a glyph as '?') with its top-left corner at
 * (x, y); clipped to the raster. Returns the x after it.
 */
export function drawText(r: Raster, text: string, x: number, y: number, scale: number, c: readonly number[]): number {
  for (const ch of text.toUpperCase()) {
    const bits = ch === ' ' ? 0 : (GLYPHS.get(ch) ?? GLYPHS.get('?')!);
    for (let row = 0; row < GLYPH_H; row++)
      for (let col = 0; col < GLYPH_W; col++) {
        const on = Math.floor(bits / 2 ** (GLYPH_W * (GLYPH_H - 1 - row) + (GLYPH_W - 1 - col))) % 2;
        if (on) fillRect(r, x + col * scale, y + row * scale, scale, scale, c);
      }
    x += (GLYPH_W + 1) * scale;
  }
  return x;
}
