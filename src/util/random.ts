// Seeded random numbers (the same stream in every runtime): mulberry32 with Box-Muller normals.

export class Rng {
  private s: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** The generator's whole state (for checkpoints), and its restoration. */
  get state(): { s: number; spare: number | null } {
    return { s: this.s, spare: this.spare };
  }
  set state(st: { s: number; spare: number | null }) {
    this.s = st.s >>> 0;
    this.spare = st.spare;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const r = Math.sqrt(-2 * Math.log(u)),
      a = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }

  /** n uniform values in [lo, hi), kept away from 0 by at least `minAbs` (test inputs must be non-zero). */
  array(n: number, lo = -1, hi = 1, minAbs = 0): Float64Array {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let v = this.uniform(lo, hi);
      while (Math.abs(v) < minAbs) v = this.uniform(lo, hi);
      a[i] = v;
    }
    return a;
  }
}
