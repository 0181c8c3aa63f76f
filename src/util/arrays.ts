/** The arrays one after another in one Float32Array (its values converted as Float32Array.set converts them). */
export function concatFloat32(parts: ArrayLike<number>[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
