// The experiment's results file (CSV, one row per fine-tuning run), its Markdown table and an SVG plot.

import { mean, pairedDifference, std } from './stats.ts';
import { CEILING, CLAIM_CEILING } from './ceiling.ts';

export interface ResultRow {
  commit: string;
  adapter: string;
  runtime: string;
  preset: string;
  dataset: string;
  method: string;
  /** labeled training volumes used (the benchmark: all of them) */
  labeled: number;
  run: number;
  seed: number;
  volumes: string;
  iterations: number;
  seconds: number;
  /** Dice of each foreground class, then the mean */
  dice: number[];
  meanFg: number;
  /** HD95 (mm) of each foreground class, then the mean (NaN in files written before HD95 was recorded) */
  hd95: number[];
  meanHd95: number;
  /**
   * seed of the network's random init before the pre-trained weights are copied in: 1 (the pre-training's seed)
   * for every run, or the run's own (files written before this column: the run's own)
   */
  init: number;
  /**
   * hash of the preset's definition (sizes and budgets) the row was made with, so that rows carried into a folder
   * from another definition of the same preset name are not taken for finished cells ('' in files written
   * before this column)
   */
  presetDef: string;
  /** how the run's labeled volumes were drawn: 'independent' or 'disjoint' (ExperimentRequest.draw; files written before this column: 'independent') */
  draw: LabeledDraw;
  /** the pre-training seed of the stages this run was fine-tuned from (files written before this column: 1) */
  pretrainSeed: number;
  /** the network grid: side (px), spacing (mm), field of view (mm), and the width (NaN in files written before these columns) */
  size: number;
  spacing: number;
  fovMm: number;
  width: number;
}

/** 'independent': each run shuffles the pool with its own seed. 'disjoint': runs take turns through one shuffle (drawLabeled). */
export type LabeledDraw = 'independent' | 'disjoint';

const FIXED = [
  'commit',
  'adapter',
  'runtime',
  'preset',
  'dataset',
  'method',
  'labeled',
  'run',
  'seed',
  'volumes',
  'iterations',
  'seconds',
] as const;

/** Columns after 'draw', in order: the pre-training seed and the grid. */
const GRID_COLUMNS = ['pretrain_seed', 'size', 'spacing_mm', 'fov_mm', 'width'] as const;

const quote = (v: string | number) => (typeof v === 'number' ? String(v) : `"${v.replaceAll('"', '""')}"`);

export function csvHeader(classes: string[]): string {
  return [
    ...FIXED,
    ...classes.map((c) => `dice_${c}`),
    'mean_fg',
    ...classes.map((c) => `hd95_${c}`),
    'mean_hd95',
    'init',
    'preset_def',
    'draw',
    ...GRID_COLUMNS,
  ].join(',');
}

export function csvLine(r: ResultRow): string {
  const num = (v: number) => (Number.isNaN(v) ? 'NaN' : v.toFixed(6));
  return [
    ...FIXED.map((k) => quote(r[k])),
    ...r.dice.map(num),
    num(r.meanFg),
    ...r.hd95.map(num),
    num(r.meanHd95),
    String(r.init),
    quote(r.presetDef),
    quote(r.draw),
    String(r.pretrainSeed),
    String(r.size),
    String(r.spacing),
    String(r.fovMm),
    String(r.width),
  ].join(',');
}

/** Split one CSV line (quoted fields may hold commas and doubled quotes). */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '',
    q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseCsv(text: string, source: string): ResultRow[] {
  const lines = text.split('\n').filter((l) => l.trim());
  if (!lines.length) return [];
  const head = splitCsv(lines[0]);
  const fg = head.indexOf('mean_fg');
  if (FIXED.some((k, i) => head[i] !== k) || fg < 0)
    throw new Error(`${source}: not an experiment results file (header ${lines[0]})`);
  const nd = fg - FIXED.length,
    withHd = head.includes('mean_hd95'),
    init = head.indexOf('init'),
    def = head.indexOf('preset_def'),
    draw = head.indexOf('draw');
  return lines.slice(1).map((l, i) => {
    const f = splitCsv(l);
    if (f.length !== head.length)
      throw new Error(`${source}: line ${i + 2} has ${f.length} fields, the header ${head.length}`);
    const num = (k: number) => Number(f[k]);
    const column = (name: string, absent: number) => (head.includes(name) ? num(head.indexOf(name)) : absent);
    const drawn = draw >= 0 ? f[draw] : 'independent';
    if (drawn !== 'independent' && drawn !== 'disjoint')
      throw new Error(`${source}: line ${i + 2}: draw '${drawn}' is neither 'independent' nor 'disjoint'`);
    return {
      commit: f[0],
      adapter: f[1],
      runtime: f[2],
      preset: f[3],
      dataset: f[4],
      method: f[5],
      labeled: num(6),
      run: num(7),
      seed: num(8),
      volumes: f[9],
      iterations: num(10),
      seconds: num(11),
      dice: f.slice(12, 12 + nd).map(Number),
      meanFg: num(12 + nd),
      hd95: withHd ? f.slice(13 + nd, 13 + 2 * nd).map(Number) : Array(nd).fill(NaN),
      meanHd95: withHd ? num(13 + 2 * nd) : NaN,
      init: init >= 0 ? num(init) : num(7),
      presetDef: def >= 0 ? f[def] : '',
      draw: drawn,
      pretrainSeed: column('pretrain_seed', 1),
      size: column('size', NaN),
      spacing: column('spacing_mm', NaN),
      fovMm: column('fov_mm', NaN),
      width: column('width', NaN),
    };
  });
}

export const BENCHMARK = 'benchmark (all labels)';

/** The mean of `value` over the items of each key, in increasing key order. */
function meanBy<T>(items: T[], key: (x: T) => number, value: (x: T) => number): Map<number, number> {
  const groups = new Map<number, number[]>();
  for (const x of items) {
    const k = key(x);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(value(x));
  }
  return new Map([...groups].sort((a, b) => a[0] - b[0]).map(([k, xs]) => [k, mean(xs)]));
}

/** One row per cell: its method, labeled count, run and pre-training seed. */
const cellName = (r: ResultRow) =>
  `${r.method}, ${r.labeled} labeled, run ${r.run}, pre-training seed ${r.pretrainSeed}`;

/**
 * The rows a table may use: one per cell, each with a finite Dice. Two rows for one cell (two runners did it, or a
 * merge kept both) would weigh one run twice, and a NaN would turn every interval it enters into "not decided":
 * both are refused, naming the cell.
 */
function checkCells(rows: ResultRow[]): void {
  const seen = new Map<string, ResultRow>();
  for (const r of rows) {
    const k = cellName(r),
      first = seen.get(k);
    if (first)
      throw new Error(
        `experiment table: two rows for the cell ${k} (commits ${first.commit} and ${r.commit}); keep one of them`,
      );
    seen.set(k, r);
    if (!Number.isFinite(r.meanFg)) throw new Error(`experiment table: the cell ${k} has Dice ${r.meanFg}`);
  }
}

/**
 * Per run, the mean of `value` over the pre-training seeds, for the runs that have every one of `seeds`: a run
 * part-way through its seeds would put one seed's value beside other runs' means over all of them.
 */
function completeRuns(
  rows: ResultRow[],
  seeds: number[],
  value: (r: ResultRow) => number = (r) => r.meanFg,
): Map<number, number> {
  const counts = new Map<number, number>();
  for (const r of rows) counts.set(r.run, (counts.get(r.run) ?? 0) + 1);
  return meanBy(
    rows.filter((r) => counts.get(r.run) === seeds.length),
    (r) => r.run,
    value,
  );
}

/**
 * a − b paired by (run, pre-training seed), over the runs where both have every one of `seeds`: per run the mean
 * over seeds, and per seed the mean over those runs.
 */
export function pairedBySeed(
  a: ResultRow[],
  b: ResultRow[],
  seeds: number[],
): { perRun: Map<number, number>; perSeed: Map<number, number> } {
  const key = (r: ResultRow) => `${r.run}|${r.pretrainSeed}`,
    other = new Map(b.map((r) => [key(r), r.meanFg]));
  const paired = a
    .filter((r) => other.has(key(r)))
    .map((r) => ({ run: r.run, seed: r.pretrainSeed, d: r.meanFg - other.get(key(r))! }));
  const counts = new Map<number, number>();
  for (const x of paired) counts.set(x.run, (counts.get(x.run) ?? 0) + 1);
  const both = paired.filter((x) => counts.get(x.run) === seeds.length);
  return {
    perRun: meanBy(
      both,
      (x) => x.run,
      (x) => x.d,
    ),
    perSeed: meanBy(
      both,
      (x) => x.seed,
      (x) => x.d,
    ),
  };
}

const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(3)}`;

/** The ceiling's sentence: per class, and whether the grid may carry a claim. */
function ceilingLine(rows: ResultRow[], classes?: string[]): string[] {
  const c = rows.find((r) => r.method === CEILING);
  if (!c) return [];
  const names = classes ?? c.dice.map((_, k) => `class ${k + 1}`),
    low = c.dice.some((d) => d < CLAIM_CEILING);
  return [
    '',
    `Ceiling on this grid (${c.size}×${c.size} px at ${c.spacing} mm, ${c.fovMm} mm field of view): ` +
      `${names.map((n, k) => `${n} ${c.dice[k].toFixed(3)}`).join(', ')}; mean foreground ${c.meanFg.toFixed(3)}. ` +
      `${low ? `**A class is below ${CLAIM_CEILING}: no claim is made on this grid.**` : `Every class ≥ ${CLAIM_CEILING}: the grid may carry a claim.`}`,
  ];
}

/** What the tables share: the rows without the ceiling, their methods, labeled counts and seeds. */
function tableData(all: ResultRow[]) {
  const rows = all.filter((r) => r.method !== CEILING);
  checkCells(rows);
  const seeds = [...new Set(rows.map((r) => r.pretrainSeed))].sort((a, b) => a - b);
  const cell = (m: string, n?: number) => rows.filter((r) => r.method === m && (n === undefined || r.labeled === n));
  const runsOf = (rs: ResultRow[], value?: (r: ResultRow) => number) => completeRuns(rs, seeds, value);
  const bench = runsOf(cell(BENCHMARK));
  return {
    rows,
    cell,
    bench,
    seeds,
    runsOf,
    methods: [...new Set(rows.map((r) => r.method))],
    counts: [...new Set(rows.filter((r) => r.method !== BENCHMARK).map((r) => r.labeled))].sort((a, b) => a - b),
    // the gap to the benchmark over the runs both have whole (run k: the same init and fine-tuning seed, each
    // pre-training seed on both sides), so that more runs of one side do not compare other runs' means
    gapOf: (rs: ResultRow[]) => {
      const mine = runsOf(rs),
        both = [...mine.keys()].filter((k) => bench.has(k));
      if (!both.length) return null;
      const b = mean(both.map((k) => bench.get(k)!));
      return {
        pct: (100 * (b - mean(both.map((k) => mine.get(k)!)))) / b,
        n: both.length,
        perRun: both.map((k) => (100 * (bench.get(k)! - mine.get(k)!)) / bench.get(k)!),
      };
    },
  };
}
type TableData = ReturnType<typeof tableData>;

const meanStd = (xs: number[], digits: number) =>
  xs.length ? `${mean(xs).toFixed(digits)} ± ${std(xs).toFixed(digits)} (n=${xs.length})` : '—';
const countsHeader = (counts: number[]) => [
  `| method | ${counts.map((n) => `${n} labeled`).join(' | ')} |`,
  `|---|${counts.map(() => '---|').join('')}`,
];
/** A titled table after a blank line, or nothing when it has no rows. */
const section = (title: string, head: string[], rows: string[]) =>
  rows.length ? ['', title, '', ...head, ...rows] : [];

/** Dice per method × labeled count with the gap to the benchmark, the benchmark's row, and the abstract's claim. */
function diceTable(t: TableData): string[] {
  const { counts, cell, bench } = t;
  const out = countsHeader(counts);
  for (const m of t.methods.filter((x) => x !== BENCHMARK)) {
    const cells = counts.map((n) => {
      const g = t.gapOf(cell(m, n));
      const gap = g
        ? `; ${Math.abs(g.pct).toFixed(1)}% ${g.pct >= 0 ? 'below' : 'above'} the benchmark over the ${g.n} run${g.n === 1 ? '' : 's'} both have`
        : '';
      return meanStd([...t.runsOf(cell(m, n)).values()], 3) + gap;
    });
    out.push(`| ${m} | ${cells.join(' | ')} |`);
  }
  const benchRows = cell(BENCHMARK);
  if (bench.size)
    out.push(
      `| ${BENCHMARK}, ${benchRows[0].labeled} volumes | ` +
        counts.map((_, i) => (i === 0 ? meanStd([...bench.values()], 3) : '')).join(' | ') +
        ' |',
    );
  // the abstract's claim: G^D+L^D with Mixup within 8% of the all-labels benchmark with 2 labeled volumes
  const claim = t.gapOf(cell('GD+LD+mixup', 2));
  if (claim) out.push('', claimLine(claim));
  return out;
}

/**
 * The abstract's claim, judged on the 95% interval of the per-run gap (run k against the benchmark's run k): met
 * when the whole interval is within 8%, not met when it is all beyond, else not decided at this n.
 */
function claimLine(g: { pct: number; n: number; perRun: number[] }): string {
  const d = pairedDifference(
      g.perRun,
      g.perRun.map(() => 0),
    ),
    pct = (p: number) => `${p.toFixed(1)}%`;
  const verdict =
    d.n < 2
      ? 'not decided (one run: no interval)'
      : d.hi <= 8
        ? 'met (the whole interval is within 8%)'
        : d.lo > 8
          ? 'not met (the whole interval is beyond 8%)'
          : 'not decided (the interval holds 8%)';
  return (
    `Abstract's claim, G^D+L^D + Mixup within 8% of the benchmark with 2 labeled volumes: ${Math.abs(g.pct).toFixed(1)}% ` +
    `${g.pct >= 0 ? 'below' : 'above'} it (n=${g.n}, the runs both have); per-run gap ${pct(d.mean)}` +
    (d.n < 2 ? '' : `, 95% CI [${pct(d.lo)}, ${pct(d.hi)}]`) +
    ` (positive: below the benchmark): **${verdict}**.`
  );
}

/** A sample std, or a dash where fewer than two values give none. */
const sdOf = (xs: number[]) => (xs.length < 2 ? '—' : std(xs).toFixed(3));

/** Rows of the paired-difference table, and (with several seeds) of the between-runs / between-seeds table. */
function pairedRows(t: TableData, pairs: [string, string][]): { diffs: string[]; variation: string[] } {
  const diffs: string[] = [],
    variation: string[] = [];
  for (const [a, b] of pairs)
    for (const n of t.counts) {
      const { perRun, perSeed } = pairedBySeed(t.cell(a, n), t.cell(b, n), t.seeds);
      if (perRun.size === 0) continue;
      const d = pairedDifference(
        [...perRun.values()],
        [...perRun.values()].map(() => 0),
      );
      diffs.push(
        `| ${a} − ${b} | ${n} | ${d.n} | ${signed(d.mean)} | [${d.lo.toFixed(3)}, ${d.hi.toFixed(3)}] | ${d.excludesZero ? 'yes' : 'no'} |`,
      );
      if (t.seeds.length > 1) {
        variation.push(
          `| ${a} − ${b} | ${n} | ${sdOf([...perRun.values()])} | ${sdOf([...perSeed.values()])} | ` +
            `${[...perSeed].map(([s, v]) => `seed ${s}: ${signed(v)}`).join('; ')} |`,
        );
      }
    }
  return { diffs, variation };
}

/** HD95 per method × labeled count, of the rows that have it; the benchmark's value in the first column. */
function hd95Rows(t: TableData): string[] {
  const finite = (rs: ResultRow[]) => rs.filter((r) => Number.isFinite(r.meanHd95));
  return t.methods
    .filter((m) => finite(t.cell(m)).length)
    .map((m) => {
      const cells = t.counts.map((n, i) => {
        if (m === BENCHMARK && i > 0) return '';
        const rs = finite(t.cell(m, m === BENCHMARK ? undefined : n));
        return meanStd([...t.runsOf(rs, (r) => r.meanHd95).values()], 2);
      });
      return `| ${m} | ${cells.join(' | ')} |`;
    });
}

/** The runs left out because they do not have every pre-training seed yet, per method and labeled count. */
function partRuns(t: TableData): string {
  const part: string[] = [];
  for (const m of t.methods)
    for (const n of m === BENCHMARK ? [undefined] : t.counts) {
      const rs = t.cell(m, n),
        whole = t.runsOf(rs);
      const runs = [...new Set(rs.map((r) => r.run))].filter((r) => !whole.has(r)).sort((a, b) => a - b);
      if (runs.length)
        part.push(
          `${m}${n === undefined ? '' : ` (${n} labeled)`} run${runs.length > 1 ? 's' : ''} ${runs.join(', ')}`,
        );
    }
  return part.length ? ` Left out until they have every seed: ${part.join('; ')}.` : '';
}

/**
 * Mean ± std per method × labeled count (a run's value: its mean over pre-training seeds), the ceiling, the
 * benchmark's gap, and the paired differences asked for; with several seeds, the variation between runs and
 * between seeds apart.
 */
export function markdownTable(all: ResultRow[], pairs: [string, string][], classes?: string[]): string {
  const t = tableData(all);
  const { diffs, variation } = pairedRows(t, pairs);
  const seedNote =
    t.seeds.length > 1
      ? ` Pre-training seeds ${t.seeds.join(', ')}: a run's value is its mean over them, and a run enters the tables` +
        ` once it has every seed.${partRuns(t)}`
      : '';
  return [
    `Mean foreground 3-D Dice on the held-out test volumes, mean ± sample std over runs (a run: a seed and a draw of the labeled volumes).${seedNote}`,
    '',
    ...diceTable(t),
    ...ceilingLine(all, classes),
    ...section(
      "Paired differences (same runs: same labeled volumes and seed; with several pre-training seeds, each run's mean difference over them), 95% Student-t interval over runs:",
      ['| difference | labeled | runs | mean | 95% CI | excludes 0 |', '|---|---|---|---|---|---|'],
      diffs,
    ),
    ...section(
      "Variation of each paired difference: the sample std over runs of each run's difference averaged over the seeds, and over the pre-training seeds of each seed's difference averaged over the runs (with two seeds, one degree of freedom), then each seed's mean. The intervals above are over runs, for these pre-trained networks: how much another pre-training seed would move a difference shows here only:",
      ['| difference | labeled | std between runs | std between seeds | per seed |', '|---|---|---|---|---|'],
      variation,
    ),
    ...section(
      'HD95 (mm; mean over foreground classes and test volumes, then mean ± std over runs; rows written before HD95 was recorded are left out):',
      countsHeader(t.counts),
      hd95Rows(t),
    ),
  ].join('\n');
}

/** Grouped bars (methods within each labeled count) with ±1 std whiskers. */
export function svgPlot(rows: ResultRow[]): string {
  const methods = [...new Set(rows.map((r) => r.method))];
  const counts = [...new Set(rows.filter((r) => r.method !== BENCHMARK).map((r) => r.labeled))].sort((a, b) => a - b);
  const W = 120 + counts.length * (methods.length * 22 + 30),
    H = 320,
    y0 = 260,
    scale = 220;
  const colors = [
    '#4e79a7',
    '#f28e2b',
    '#e15759',
    '#76b7b2',
    '#59a14f',
    '#edc948',
    '#b07aa1',
    '#ff9da7',
    '#9c755f',
    '#bab0ac',
  ];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 200}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<line x1="60" y1="${y0}" x2="${W}" y2="${y0}" stroke="black"/>`,
    `<line x1="60" y1="${y0}" x2="60" y2="${y0 - scale}" stroke="black"/>`,
  ];
  for (let t = 0; t <= 10; t += 2)
    parts.push(`<text x="30" y="${y0 - (scale * t) / 10 + 4}">${(t / 10).toFixed(1)}</text>`);
  parts.push(`<text x="10" y="20">mean foreground Dice</text>`);
  counts.forEach((n, ci) => {
    const gx = 80 + ci * (methods.length * 22 + 30);
    parts.push(`<text x="${gx}" y="${y0 + 18}">${n} labeled</text>`);
    methods.forEach((m, mi) => {
      const xs = rows.filter((r) => r.method === m && (m === BENCHMARK || r.labeled === n)).map((r) => r.meanFg);
      if (!xs.length) return;
      const x = gx + mi * 22,
        h = scale * mean(xs),
        s = scale * std(xs);
      parts.push(
        `<rect x="${x}" y="${(y0 - h).toFixed(1)}" width="18" height="${h.toFixed(1)}" fill="${colors[mi % colors.length]}"/>`,
        `<line x1="${x + 9}" x2="${x + 9}" y1="${(y0 - h - s).toFixed(1)}" y2="${(y0 - h + s).toFixed(1)}" stroke="black"/>`,
      );
    });
  });
  methods.forEach((m, mi) =>
    parts.push(
      `<rect x="${W + 10}" y="${30 + mi * 18}" width="12" height="12" fill="${colors[mi % colors.length]}"/>`,
      `<text x="${W + 28}" y="${40 + mi * 18}">${m.replaceAll('&', '&amp;').replaceAll('<', '&lt;')}</text>`,
    ),
  );
  parts.push('</svg>');
  return parts.join('\n');
}
