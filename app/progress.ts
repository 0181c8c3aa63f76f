// The run's progress for the page: a progress bar with the time left, the validation Dice, and the loss curves in
// two panels (pre-training, fine-tuning) with labelled axes. Pre-training and fine-tuning losses are different
// quantities on different scales, so one shared axis (as before) flattened one of them.

import type { StageProgress } from '../src/api/session.ts';

interface Point {
  x: number;
  loss: number;
  dice?: number;
}
interface Panel {
  points: Point[];
  /** the x axis' end: the run's iterations (all stages of a pre-training call) */
  xMax: number;
  /** the run's stages in order, each `iterations` long on the shared x axis */
  order: string[];
  iterations: number;
  stages: string[];
}
const empty = (): Panel => ({ points: [], xMax: 1, order: [], iterations: 1, stages: [] });
const panels: Record<'pretrain' | 'finetune', Panel> = { pretrain: empty(), finetune: empty() };
const kindOf = (stage: string) => (stage === 'finetune' ? 'finetune' : 'pretrain');

/**
 * Where a report goes on its run's x axis: its stage's place in the run's order, then its iteration. A resumed
 * run that starts in its second stage plots there, not over the first stage's range.
 */
export const plotX = (order: string[], iterations: number, p: StageProgress) =>
  Math.max(0, order.indexOf(p.stage)) * iterations + p.iteration;

/** ETA from the reports of the current stage: iterations per second since its first report here. */
let clock: { stage: string; t0: number; it0: number } | null = null;

/** A new run of `kind` through `stages` (in order), `iterations` each: its panel starts empty, the bar at zero. */
export function startProgress(kind: 'pretrain' | 'finetune', stages: string[], iterations: number): void {
  panels[kind] = {
    points: [],
    xMax: Math.max(1, stages.length * iterations),
    order: stages,
    iterations,
    stages: [],
  };
  clock = null;
  setBar(0, 'starting…');
  el('dice').textContent = '';
  drawPlots();
}

export function reportProgress(p: StageProgress, validationName: string | null): void {
  const panel = panels[kindOf(p.stage)],
    now = performance.now();
  if (!clock || clock.stage !== p.stage) {
    clock = { stage: p.stage, t0: now, it0: p.iteration };
    if (!panel.stages.includes(p.stage)) panel.stages.push(p.stage);
  }
  panel.points.push({ x: plotX(panel.order, panel.iterations, p), loss: p.loss, dice: p.valDice });
  const done = p.iteration - clock.it0,
    rate = done > 0 ? (now - clock.t0) / done : 0;
  const left = rate ? `about ${duration((p.iterations - p.iteration) * rate)} left` : 'estimating time left…';
  setBar(p.iteration / p.iterations, `${p.stage}: iteration ${p.iteration} of ${p.iterations}, ${left}`);
  if (p.valDice !== undefined)
    el('dice').textContent =
      `validation Dice ${p.valDice.toFixed(3)} (best ${(p.best ?? p.valDice).toFixed(3)})` +
      `${validationName ? ` on ${validationName}` : ''}, at iteration ${p.iteration}`;
  drawPlots();
}

/** The run has ended: the bar says how (done, stopped, failed). */
export const endProgress = (words: string, fraction?: number) =>
  setBar(fraction ?? Number(el<HTMLProgressElement>('progress').value), words);

const el = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
function setBar(fraction: number, words: string): void {
  el<HTMLProgressElement>('progress').value = Math.max(0, Math.min(1, fraction));
  el('eta').textContent = words;
}
function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function drawPlots(): void {
  drawPanel(el('plot-pretrain'), 'Pre-training loss (contrastive)', panels.pretrain, '#06c');
  drawPanel(el('plot-finetune'), 'Fine-tuning loss (segmentation)', panels.finetune, '#c00');
}

const tick = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toPrecision(3));

/** One panel: title, loss against iteration with ticks at both ends of each axis; Dice dots on a 0–1 right axis. */
function drawPanel(c: HTMLCanvasElement, title: string, panel: Panel, colour: string): void {
  const g = c.getContext('2d')!;
  c.width = c.clientWidth;
  c.height = c.clientHeight;
  const box = { l: 52, r: c.width - 44, t: 22, b: c.height - 30 };
  g.clearRect(0, 0, c.width, c.height);
  g.font = '12px system-ui, sans-serif';
  g.fillStyle = '#222';
  g.fillText(`${title}${panel.stages.length ? ` — ${panel.stages.join(', then ')}` : ''}`, box.l, 14);
  g.strokeStyle = '#888';
  g.strokeRect(box.l, box.t, box.r - box.l, box.b - box.t);
  const pts = panel.points;
  const lo = pts.length ? Math.min(...pts.map((p) => p.loss)) : 0,
    hi = pts.length ? Math.max(...pts.map((p) => p.loss)) : 1;
  const X = (x: number) => box.l + (x / panel.xMax) * (box.r - box.l),
    Y = (v: number) => box.b - ((v - lo) / Math.max(1e-9, hi - lo)) * (box.b - box.t);
  g.fillStyle = '#444';
  g.textAlign = 'right';
  for (const v of [lo, hi]) g.fillText(tick(v), box.l - 4, Y(v) + 4);
  g.textAlign = 'center';
  for (const x of [0, panel.xMax]) g.fillText(String(x), X(x), box.b + 14);
  g.fillText('iteration', (box.l + box.r) / 2, box.b + 26);
  g.save();
  g.translate(12, (box.t + box.b) / 2);
  g.rotate(-Math.PI / 2);
  g.fillText('loss', 0, 0);
  g.restore();
  if (!pts.length) {
    g.fillText('no run yet', (box.l + box.r) / 2, (box.t + box.b) / 2);
    g.textAlign = 'left';
    return;
  }
  g.strokeStyle = colour;
  g.lineWidth = 1.5;
  g.beginPath();
  pts.forEach((p, i) => (i ? g.lineTo(X(p.x), Y(p.loss)) : g.moveTo(X(p.x), Y(p.loss))));
  g.stroke();
  drawDice(g, pts, box, X);
  g.textAlign = 'left';
}

/** Validation Dice as dots against a 0–1 axis on the right (green), when the run measured any. */
function drawDice(
  g: CanvasRenderingContext2D,
  pts: Point[],
  box: { l: number; r: number; t: number; b: number },
  X: (x: number) => number,
): void {
  const dice = pts.filter((p) => p.dice !== undefined);
  if (!dice.length) return;
  const Y = (d: number) => box.b - d * (box.b - box.t);
  g.fillStyle = '#080';
  g.textAlign = 'left';
  for (const d of [0, 1]) g.fillText(String(d), box.r + 4, Y(d) + 4);
  g.fillText('Dice', box.r + 4, (box.t + box.b) / 2);
  for (const p of dice) {
    g.beginPath();
    g.arc(X(p.x), Y(p.dice!), 3, 0, 2 * Math.PI);
    g.fill();
  }
}
