// Summary statistics of the experiment table: mean ± sample standard deviation, and the paired difference of
// two methods over the same runs (same labeled draw and seed) with a two-sided 95% Student-t interval.

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Sample standard deviation (n − 1); 0 for a single value. */
export function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * t_{0.975, df}: standard tables for df = 1..30, then the Cornish–Fisher expansion in 1/df about the normal
 * quantile (Abramowitz & Stegun 26.7.5; within 0.0002 of the exact value from df = 30 on).
 */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tQuantile975(df: number): number {
  if (df < 1) return NaN;
  if (df <= 30) return T975[df - 1];
  const z = 1.959964,
    z3 = z ** 3,
    z5 = z ** 5,
    z7 = z ** 7;
  return (
    z +
    (z3 + z) / (4 * df) +
    (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) +
    (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3)
  );
}

export interface PairedDifference {
  n: number;
  mean: number;
  lo: number;
  hi: number;
  excludesZero: boolean;
}

/** a − b over paired values (a[i] with b[i]); NaN bounds with fewer than 2 pairs. */
export function pairedDifference(a: number[], b: number[]): PairedDifference {
  if (a.length !== b.length) throw new Error(`paired difference: ${a.length} vs ${b.length} values`);
  const d = a.map((v, i) => v - b[i]),
    n = d.length,
    m = mean(d);
  const half = n >= 2 ? (tQuantile975(n - 1) * std(d)) / Math.sqrt(n) : NaN;
  return { n, mean: m, lo: m - half, hi: m + half, excludesZero: n >= 2 && (m - half > 0 || m + half < 0) };
}
