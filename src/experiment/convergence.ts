// The fine-tuning budget of a preset, chosen from validation curves (issue 24 item 3): the all-labels benchmark and
// random init on few labeled volumes are fine-tuned far longer than any budget in question, validated every
// `valEvery` iterations, and the budget is where both have stopped rising.
//
// The rule: a curve's plateau is the first validation at which its smoothed Dice, the mean of the last
// PLATEAU_WINDOW validations, is within PLATEAU_DELTA of the highest it reaches in the whole run. The budget is
// the later of the two plateaus. It holds only if the run went on for at least RUN_OVER_BUDGET times the budget;
// otherwise the curves were still rising, and the answer is "run longer", not a budget.
// The rule as first written took the best-so-far of the raw curve (window 1). On 2 validation volumes a curve
// swings by ±0.1, and the best of a longer run is a later spike, so that plateau moved with every longer run
// (wide: 1 800, 4 500, 6 800 at 2 000, 6 000 and 7 000 iterations); the window was added after those runs
// (docs/experiments.md), and both plateaus are printed.

import type { Backend } from '../ops/backend.ts';
import { UNet, paperUNet } from '../model/unet.ts';
import type { PreparedVolume } from '../data/pipeline.ts';
import { type CheckpointHooks, finetune, PAPER_FINETUNE } from '../train/finetune.ts';
import { type CheckpointMeta, decodeSafetensors } from '../train/checkpoint.ts';
import { fileExists, joinPath as join, readFileBytes, readText, writeFileAtomic } from '../io/files.ts';
import { type Preset, describeGrid, gridOf } from '../presets.ts';
import { drawLabeled } from './experiment.ts';
import { PRETRAIN_SEED } from '../contrastive/stages.ts';

export const PLATEAU_DELTA = 0.01;
export const RUN_OVER_BUDGET = 1.5;
/** validations averaged before the plateau is read (1 000 iterations at valEvery 100) */
export const PLATEAU_WINDOW = 10;

export interface CurvePoint {
  iteration: number;
  valDice: number;
}
export interface Curve {
  name: string;
  volumes: string[];
  points: CurvePoint[];
}

/** The first validation whose best-so-far is within delta of the curve's best. */
export function plateauIteration(points: CurvePoint[], delta = PLATEAU_DELTA): number {
  const top = Math.max(...points.map((p) => p.valDice));
  let best = -Infinity;
  for (const p of points) {
    best = Math.max(best, p.valDice);
    if (best >= top - delta) return p.iteration;
  }
  return points[points.length - 1].iteration;
}

/** Each point's Dice replaced by the mean of the last `window` validations (fewer at the start). */
export function smoothed(points: CurvePoint[], window: number): CurvePoint[] {
  return points.map((p, i) => {
    const last = points.slice(Math.max(0, i - window + 1), i + 1);
    return { iteration: p.iteration, valDice: last.reduce((a, q) => a + q.valDice, 0) / last.length };
  });
}

export interface Budget {
  budget: number;
  plateaus: number[];
  ran: number;
  holds: boolean;
  window: number;
}

export function chooseBudget(curves: Curve[], ran: number, window = PLATEAU_WINDOW): Budget {
  const plateaus = curves.map((c) => plateauIteration(smoothed(c.points, window))),
    budget = Math.max(...plateaus);
  return { budget, plateaus, ran, holds: ran >= RUN_OVER_BUDGET * budget, window };
}

export interface ConvergenceSetup<T> {
  be: Backend<T>;
  out: string;
  preset: string;
  definition: Preset;
  classes: string[];
  train: PreparedVolume[];
  val: PreparedVolume[];
  log: (line: string) => void;
}

/**
 * Fine-tune the benchmark and random init on `labeled` volumes for `iterations`, validating on the preset's interval.
 * Each curve keeps a checkpoint at every validation, so `resume` continues both from where an earlier call stopped,
 * to a larger `iterations`: the learning rate is constant and the sampling state is checkpointed, so a curve run
 * longer this way has the same bits as one run that long from the start.
 */
export async function convergenceCurves<T>(
  s: ConvergenceSetup<T>,
  iterations: number,
  labeled: number,
  resume = false,
): Promise<{ curves: Curve[]; budget: Budget }> {
  const p = s.definition,
    cfg = paperUNet(s.classes.length, p.width);
  if (labeled >= s.train.length)
    throw new Error(`--labeled ${labeled}: the benchmark already uses all ${s.train.length} labeled training volumes`);
  const few = drawLabeled(s.train.length, labeled, labeled, 1).map((i) => s.train[i]);
  const runs = [
    { key: 'benchmark', name: `benchmark (all ${s.train.length} labeled)`, vols: s.train },
    { key: 'random', name: `random init, ${labeled} labeled`, vols: few },
  ];
  const csvPath = join(s.out, `convergence-${s.preset}.csv`),
    earlier = resume ? await readCurves(csvPath) : new Map<string, CurvePoint[]>();
  const curves: Curve[] = [];
  // the CSV is rewritten (and awaited: on wasm the steps never give I/O a turn otherwise) at every validation, so a
  // run stopped early keeps the curves so far
  const save = () => writeFileAtomic(csvPath, new TextEncoder().encode(curvesCsv(s.preset, p, curves)));
  for (const r of runs) {
    const model = new UNet(s.be, cfg, PRETRAIN_SEED),
      t0 = performance.now();
    const ckpt = await curveCheckpoint(s.out, `convergence-${s.preset}-${r.key}`, p.valEvery, resume);
    const from = ckpt.resume ? ckpt.iteration : 0,
      points = (earlier.get(r.name) ?? []).filter((pt) => pt.iteration <= from);
    if (ckpt.resume) s.log(`  ${r.name}: resuming at iteration ${from} from ${ckpt.resume.source}`);
    curves.push({ name: r.name, volumes: r.vols.map((v) => v.name), points });
    const opts = { ...PAPER_FINETUNE, iterations, batch: p.batch, valEvery: p.valEvery, seed: 1 };
    await finetune(
      model,
      r.vols,
      s.val,
      opts,
      async (pr) => {
        if (pr.valDice === undefined) return;
        points.push({ iteration: pr.iteration, valDice: pr.valDice });
        await save();
        const secs = ((performance.now() - t0) / 1000).toFixed(0);
        s.log(
          `  ${r.name}: iteration ${pr.iteration}/${iterations}, validation Dice ${pr.valDice.toFixed(3)} (${secs} s)`,
        );
      },
      ckpt,
    );
  }
  const budget = chooseBudget(curves, iterations);
  await writeFileAtomic(
    join(s.out, `convergence-${s.preset}.svg`),
    new TextEncoder().encode(curvesSvg(`${s.preset}: ${describeGrid(p)}, batch ${p.batch}`, curves, budget)),
  );
  return { curves, budget };
}

/** A curve's checkpoints (<base>.last / .best.safetensors, at every validation) and, with `resume`, what they hold. */
async function curveCheckpoint(out: string, base: string, every: number, resume: boolean) {
  const last = join(out, `${base}.last.safetensors`),
    bestPath = join(out, `${base}.best.safetensors`);
  const hooks: CheckpointHooks & { iteration: number } = {
    every,
    iteration: 0,
    save: (bytes) => writeFileAtomic(last, bytes),
    saveBest: (bytes) => writeFileAtomic(bestPath, bytes),
  };
  if (!resume) return hooks;
  if (!(await fileExists(last))) throw new Error(`--resume: ${last} does not exist (run without --resume first)`);
  const bytes = await readFileBytes(last);
  hooks.resume = {
    bytes,
    source: last,
    best: (await fileExists(bestPath)) ? await readFileBytes(bestPath) : undefined,
  };
  hooks.iteration = (JSON.parse(decodeSafetensors(bytes, last).meta.glocal) as CheckpointMeta).iteration;
  return hooks;
}

/** The points an earlier call wrote, by curve name. */
async function readCurves(path: string): Promise<Map<string, CurvePoint[]>> {
  const byName = new Map<string, CurvePoint[]>();
  if (!(await fileExists(path))) return byName;
  for (const line of (await readText(path)).split('\n').slice(1)) {
    const m = /"([^"]*)",(\d+),([\d.eE+-]+)$/.exec(line.trim());
    if (!m) continue;
    const pts = byName.get(m[1]) ?? [];
    pts.push({ iteration: Number(m[2]), valDice: Number(m[3]) });
    byName.set(m[1], pts);
  }
  return byName;
}

function curvesCsv(preset: string, p: Preset, curves: Curve[]): string {
  const g = gridOf(p),
    lines = ['preset,size,spacing_mm,fov_mm,width,batch,curve,iteration,val_dice'];
  for (const c of curves)
    for (const pt of c.points) {
      lines.push(
        [
          `"${preset}"`,
          g.size,
          g.spacing,
          g.fovMm,
          p.width,
          p.batch,
          `"${c.name}"`,
          pt.iteration,
          pt.valDice, // every digit: a resumed call reads the earlier points back
        ].join(','),
      );
    }
  return `${lines.join('\n')}\n`;
}

/** Validation Dice against iteration, one line per curve, the chosen budget as a dashed line. */
export function curvesSvg(title: string, curves: Curve[], b: Budget): string {
  const W = 640,
    H = 340,
    x0 = 60,
    y0 = 290,
    w = 540,
    h = 250,
    colors = ['#4e79a7', '#e15759'];
  const xMax = b.ran,
    X = (it: number) => x0 + (w * it) / xMax,
    Y = (d: number) => y0 - h * d;
  const esc = (t: string) => t.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${x0}" y="16">${esc(title)}</text>`,
    `<line x1="${x0}" y1="${y0}" x2="${x0 + w}" y2="${y0}" stroke="black"/>`,
    `<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y0 - h}" stroke="black"/>`,
    `<text x="${x0 + w / 2 - 30}" y="${y0 + 30}">iteration</text>`,
    `<text x="4" y="${y0 - h - 8}">validation Dice</text>`,
  ];
  for (let t = 0; t <= 10; t += 2)
    parts.push(`<text x="${x0 - 28}" y="${Y(t / 10) + 4}">${(t / 10).toFixed(1)}</text>`);
  for (let k = 0; k <= 4; k++)
    parts.push(`<text x="${X((xMax * k) / 4) - 10}" y="${y0 + 14}">${Math.round((xMax * k) / 4)}</text>`);
  curves.forEach((c, i) => {
    parts.push(
      `<polyline fill="none" stroke="${colors[i % 2]}" stroke-width="1.5" points="${c.points.map((p) => `${X(p.iteration).toFixed(1)},${Y(p.valDice).toFixed(1)}`).join(' ')}"/>`,
      `<text x="${x0 + 10}" y="${y0 - h + 14 + 14 * i}" fill="${colors[i % 2]}">${esc(c.name)}: plateau at ${b.plateaus[i]}</text>`,
    );
  });
  parts.push(
    `<line x1="${X(b.budget)}" x2="${X(b.budget)}" y1="${y0}" y2="${y0 - h}" stroke="black" stroke-dasharray="4 3"/>`,
    `<text x="${X(b.budget) + 4}" y="${y0 - 6}">budget ${b.budget}${b.holds ? '' : ' (still rising: run longer)'}</text>`,
    '</svg>',
  );
  return parts.join('\n');
}
