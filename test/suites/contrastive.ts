// The contrastive losses (src/contrastive/terms.ts, wgsl/contrastive_*.wgsl, wgsl/region_*.wgsl): the term
// lists of every strategy against the paper's counts, the float64 reference against the losses written out
// from their definitions and against finite differences, and the WGSL kernels against the reference
// (loss and gradient, with NaN-poisoned outputs) on small hand-built batches of every strategy.

import { type TestCase, assert, assertClose } from '../harness.ts';
import { Rng } from '../../src/util/random.ts';
import { Tape, Var } from '../../src/autodiff/tape.ts';
import * as op from '../../src/autodiff/ops.ts';
import type { Backend } from '../../src/ops/backend.ts';
import { RefBackend } from '../../src/ops/reference.ts';
import {
  type ContrastiveTerms,
  globalRandomTerms,
  globalDMinusTerms,
  globalDTerms,
  localRandomTerms,
  localDTerms,
  regionTable,
  denseRegionTable,
  termRows,
  uploadTerms,
  releaseTerms,
} from '../../src/contrastive/terms.ts';
import { release, kit, type Side, GPU_SIDE, WASM_SIDE } from './kernels.ts';
import { UNet, tinyUNet } from '../../src/model/unet.ts';
import type { PretrainVolume } from '../../src/contrastive/batches.ts';
import {
  PAPER_PRETRAIN,
  type PretrainOptions,
  isLocal,
  loadPretrained,
  pretrain,
  pretrainModel,
  transferred,
} from '../../src/contrastive/pretrain.ts';
import { saveParams } from '../../src/train/checkpoint.ts';
import {
  PRETEXT_TASKS,
  blankRectangle,
  pretextModel,
  pretrainPretext,
  rotate90,
  swapPatches,
} from '../../src/contrastive/pretext.ts';
import { finetune, PAPER_FINETUNE, type FinetuneOptions } from '../../src/train/finetune.ts';
import type { CheckpointHooks } from '../../src/train/iterate.ts';
import { type StageSpec, memoryStageStore, runStages } from '../../src/contrastive/stages.ts';
import { preparedFromBatch } from './checkpoint.ts';

const TAU = 0.1;

/** Small batches of every strategy (N embeddings each). */
function strategies(): { name: string; terms: ContrastiveTerms }[] {
  const table = regionTable(9); // f = 5: q 1, h 2, t 3 (windows overlap: exercises the scatter's sums)
  return [
    { name: 'G^R, B=3', terms: globalRandomTerms(3) },
    { name: 'G^D-, 2 volumes x 3 partitions', terms: globalDMinusTerms([0, 1, 2, 0, 1, 2]) },
    { name: 'G^D, 2 volumes x 3 partitions', terms: globalDTerms(2, 3) },
    { name: 'L^R, B=1, 13 regions on 9x9', terms: localRandomTerms(1, table) },
    { name: 'L^D, 2 volumes x 2 partitions', terms: localDTerms([0, 1, 0, 1], table) },
    { name: 'L^R dense (16 regions, all others negative)', terms: localRandomTerms(1, denseRegionTable(9, 3, 2)) },
    { name: 'L^D dense', terms: localDTerms([0, 1, 0, 1], denseRegionTable(9, 3, 2)) },
    { name: 'L^D with cross-partition negatives', terms: localDTerms([0, 1, 0, 1], table, true) },
  ];
}

/** The loss of z [N, D] through the autodiff op, and dL/dz. */
async function lossAndGrad<T>(
  be: Backend<T>,
  z: Float64Array | Float32Array,
  N: number,
  D: number,
  terms: ContrastiveTerms,
) {
  const tt = uploadTerms(be, terms);
  const zv = new Var(be.fromHost(z, [N, D]), true);
  const tp = new Tape(be);
  const loss = op.contrastiveLoss(tp, zv, tt, TAU);
  tp.backward(loss);
  const out = { loss: (await be.toHost(loss.value))[0], grad: await be.toHost(zv.grad!) };
  tp.dispose();
  releaseTerms(be, tt);
  return out;
}

const countsCase: TestCase = {
  name: "contrastive terms: every strategy has the paper's positives, negatives and normalisation (§3, §4)",
  async run() {
    const negs = (t: ContrastiveTerms, k: number) => t.mask.subarray(k * t.n, (k + 1) * t.n).reduce((a, b) => a + b, 0);
    const T = (t: ContrastiveTerms) => t.pairs.length / 2;
    const gr = globalRandomTerms(12);
    assert(
      T(gr) === 24 && negs(gr, 0) === 22 && Math.abs(gr.scale - 1 / 24) < 1e-15,
      'G^R: 2B terms, 2B − 2 negatives, ÷2B',
    );
    const part = Array.from({ length: 12 }, (_, k) => k % 4); // 3 volumes × 4 partitions
    const gdm = globalDMinusTerms(part);
    assert(
      T(gdm) === 72 && negs(gdm, 0) === 27 && Math.abs(gdm.scale - 1 / 36) < 1e-15,
      `G^D-: 6 terms per slice, 27 negatives, ÷36 (${T(gdm)}, ${negs(gdm, 0)})`,
    );
    const gd = globalDTerms(6, 4);
    assert(
      gd.n === 48 && T(gd) === 144 && negs(gd, 0) === 36,
      `G^D: 48 images, 3 positives each, 36 negatives (${T(gd)}, ${negs(gd, 0)})`,
    );
    const table = regionTable(48);
    const pos = (r: number, c: number) => table.positions.findIndex((p) => p[0] === r && p[1] === c);
    assert(
      table.anchors.length === 13 && pos(11, 33) === table.anchors[10].pos && pos(33, 33) === table.anchors[12].pos,
      'regions at 48×48 (3×3): q 11, h 22, t 33, f 44',
    );
    assert(
      table.anchors[0].negatives.map((n) => table.positions[n].join(',')).join(' ') === '0,22 11,11 11,22 22,0 22,11',
      'anchor 0 negatives (0,h) (q,q) (q,h) (h,0) (h,q)',
    );
    const lr = localRandomTerms(10, table);
    assert(
      T(lr) === 260 && negs(lr, 0) === 10 && Math.abs(lr.scale - 1 / 260) < 1e-15,
      'L^R: 13 regions × 2 directions × B pairs, 10 negatives',
    );
    const dense = denseRegionTable(48, 3, 4);
    assert(
      dense.positions.length === 144 &&
        dense.anchors[0].negatives.length === 143 &&
        dense.positions[143].join() === '44,44',
      `dense grid at 48×48: ${dense.positions.length} regions`,
    );
    const ld = localDTerms(part, table);
    assert(
      T(ld) === 12 * 3 * 13 && negs(ld, 0) === 8 && Math.abs(ld.scale - 1 / (13 * 24)) < 1e-15,
      'L^D: 3 partners × 13 regions per slice, 8 negatives, ÷13÷24',
    );
    // cross-partition: + the anchor's own region in the 9 other-partition slices × 2 views = 26 negatives
    const ldx = localDTerms(part, table, true),
      P = table.positions.length;
    const sameRegion = Array.from({ length: ldx.n }, (_, j) => j).filter(
      (j) => ldx.mask[j] === 1 && j % P === ldx.pairs[0] % P,
    );
    assert(
      T(ldx) === T(ld) &&
        negs(ldx, 0) === 26 &&
        sameRegion.length === 18 &&
        sameRegion.every((j) => part[Math.floor(j / P) % 12] !== part[0]),
      'L^D cross-partition: 18 same-region negatives, all from other partitions',
    );
    // the backward kernel's row lists: every term once, grouped by anchor in increasing order
    const rows = termRows(gd);
    assert(rows[gd.n] === T(gd), 'row offsets end at T');
    for (let i = 0; i < gd.n; i++) {
      for (let k = rows[i]; k < rows[i + 1]; k++) assert(gd.pairs[2 * rows[gd.n + 1 + k]] === i, `term of row ${i}`);
    }
  },
};

const referenceCase: TestCase = {
  name: "contrastive reference: G^R equals NT-Xent written out, and every strategy's gradient matches finite differences",
  async run() {
    const ref = new RefBackend(),
      rng = new Rng(5),
      N = 6,
      D = 5;
    const z = Float64Array.from(rng.array(N * D, -1, 1, 0.01));
    // NT-Xent: mean over anchors of −log(exp(s_ap) / Σ_{j≠a} exp(s_aj)), s = cos/τ
    const unit = Array.from({ length: N }, (_, i) => {
      const v = z.subarray(i * D, (i + 1) * D),
        n = Math.hypot(...v);
      return Array.from(v, (x) => x / n);
    });
    const sim = (a: number, b: number) => unit[a].reduce((s, x, d) => s + x * unit[b][d], 0) / TAU;
    let want = 0;
    for (let a = 0; a < N; a++) {
      let den = 0;
      for (let j = 0; j < N; j++) if (j !== a) den += Math.exp(sim(a, j));
      want += -Math.log(Math.exp(sim(a, a ^ 1)) / den) / N;
    }
    const got = await lossAndGrad(ref, z, N, D, globalRandomTerms(3));
    assert(Math.abs(got.loss - want) < 1e-12, `G^R ${got.loss} vs NT-Xent ${want}`);
    for (const { name, terms } of strategies()) {
      const n = terms.n,
        d = 4,
        zz = Float64Array.from(rng.array(n * d, -1, 1, 0.01));
      const { grad } = await lossAndGrad(ref, zz, n, d, terms);
      const h = 1e-6,
        fd = new Float64Array(n * d);
      for (let i = 0; i < n * d; i += Math.max(1, Math.floor((n * d) / 40))) {
        // 40 coordinates per strategy
        const p = Float64Array.from(zz),
          m = Float64Array.from(zz);
        p[i] += h;
        m[i] -= h;
        fd[i] =
          ((await lossAndGrad(ref, p, n, d, terms)).loss - (await lossAndGrad(ref, m, n, d, terms)).loss) / (2 * h);
        assert(
          Math.abs(fd[i] - grad[i]) < 1e-6 * Math.max(1, Math.abs(fd[i])),
          `${name}: dL/dz[${i}] ${grad[i]} vs finite difference ${fd[i]}`,
        );
      }
    }
  },
};

const kernelCases = (side: Side): TestCase[] =>
  strategies().map(({ name, terms }) => ({
    name:
      side.prefix +
      `contrastive kernels, ${name}: loss, log-sum-exps and similarity gradient; end to end through normalisation`,
    async run(env) {
      const on = kit(env, side.be(env)),
        be = on.be;
      const rng = new Rng(terms.n * 7 + terms.pairs.length);
      const T = terms.pairs.length / 2,
        N = terms.n;
      // the kernels on a raw similarity matrix of cosines
      const s = on.input(rng, [N, N], -1, 1),
        dl = on.input(rng, [1], 0.5, 2);
      const gt = uploadTerms(be, terms),
        rt = uploadTerms(env.ref, terms);
      const g = be.contrastiveLoss(s.g, gt.pairs, gt.mask, 1 / TAU, terms.scale);
      const r = env.ref.contrastiveLoss(s.r, rt.pairs, rt.mask, 1 / TAU, terms.scale);
      await on.check('loss', g.loss, r.loss);
      await on.check('log-sum-exp', g.lse, r.lse);
      const dg = be.contrastiveBackward(s.g, gt.pairs, gt.mask, g.lse, gt.rows, dl.g, 1 / TAU, terms.scale);
      await on.check(
        'd loss / d s',
        dg,
        env.ref.contrastiveBackward(s.r, rt.pairs, rt.mask, r.lse, rt.rows, dl.r, 1 / TAU, terms.scale),
      );
      release(s, dl, g.loss, g.lse, dg);
      releaseTerms(be, gt);
      // end to end: embeddings → L2 normalisation → Gram → loss, and back
      const D = 6,
        z = Float32Array.from(rng.array(N * D, -1, 1, 0.01));
      const a = await lossAndGrad(be, z, N, D, terms),
        b = await lossAndGrad(env.ref, z, N, D, terms);
      assertClose('loss (end to end)', [a.loss], [b.loss], 1e-4);
      assertClose('dL/dz (end to end)', a.grad, b.grad, 1e-4);
      env.report[`contrastive ${name}`] = { terms: T, embeddings: N, loss: b.loss };
    },
  }));

const regionCase = (side: Side): TestCase => ({
  name: `${side.prefix}local regions: gather of 3×3 and 1×1 windows and its gradient (overlapping windows add)`,
  async run(env) {
    const on = kit(env, side.be(env)),
      be = on.be;
    for (const [W, size, C] of [
      [9, 3, 5],
      [8, 1, 3],
      [12, 3, 2],
    ] as const) {
      const rng = new Rng(W * 10 + size);
      const table = regionTable(W, size);
      const P = table.positions.length,
        B = 2;
      const pos = Float32Array.from(table.positions.flat());
      const pg = be.fromHost(pos, [P, 2]),
        pr = env.ref.fromHost(pos, [P, 2]);
      const x = on.input(rng, [B, W, W, C]);
      const og = be.regionGather(x.g, pg, size),
        or = env.ref.regionGather(x.r, pr, size);
      await on.check(`gather ${W}×${W} ${size}×${size}`, og, or);
      const dy = on.input(rng, [B * P, size * size * C]);
      const dg = be.regionScatter(dy.g, pg, size, [B, W, W, C]);
      await on.check(`scatter ${W}×${W} ${size}×${size}`, dg, env.ref.regionScatter(dy.r, pr, size, [B, W, W, C]));
      release(x, og, dy, dg);
      pg.release();
    }
  },
});

// ------------------------------------------------------------------------------------------------ stages

/** Unlabeled volumes of 16×16 slices: a bright disc whose radius shrinks along the slice axis, plus noise. */
function toyVolumes(n: number, S = 16): PretrainVolume[] {
  const rng = new Rng(99);
  return Array.from({ length: n }, (_, v) => {
    const nz = 8 + (v % 3),
      slices = new Float32Array(nz * S * S);
    const cx = S / 2 + rng.uniform(-2, 2),
      cy = S / 2 + rng.uniform(-2, 2);
    for (let k = 0; k < nz; k++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const r = 6 * (1 - k / nz) + 1;
          slices[(k * S + y) * S + x] = ((x - cx) ** 2 + (y - cy) ** 2 < r * r ? 0.8 : 0.2) + 0.05 * rng.normal();
        }
    return { slices, nz };
  });
}

async function weights<T>(be: Backend<T>, model: UNet<T>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const s of model.params.slots) out.set(s.name, Float32Array.from(await be.toHost(s.v.value)));
  return out;
}

/** Pre-training small enough for a test: 4 iterations (unless `more` says), 2 volumes × 2 partitions, blocks of 1. */
const tinyPretrain = (strategy: keyof typeof PAPER_PRETRAIN, more: Partial<PretrainOptions> = {}): PretrainOptions => ({
  ...PAPER_PRETRAIN[strategy],
  iterations: 4,
  volumes: 2,
  partitions: 2,
  block: 1,
  ...more,
});

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

const stageCase: TestCase = {
  name: 'pre-training stages (tiny UNet): every strategy trains; local stages leave the encoder and g1 alone; weights transfer as §5.2',
  async run(env) {
    const be = env.gpu,
      vols = toyVolumes(6),
      S = 16,
      cfg = tinyUNet(3);
    const curves: Record<string, number[]> = {};
    for (const strategy of ['GR', 'GD-', 'GD', 'LR', 'LD'] as const) {
      const o = tinyPretrain(strategy, { batch: 3 });
      const model = pretrainModel(be, cfg, S, o, 3);
      const before = await weights(be, model);
      const { losses } = await pretrain(model, vols, S, o);
      assert(losses.length === 4 && losses.every(Number.isFinite), `${strategy}: losses ${losses}`);
      const after = await weights(be, model);
      for (const [name, w] of after) {
        const moved = !same(w, before.get(name)!);
        const shouldMove = isLocal(strategy)
          ? name.startsWith('dec1_') || name.startsWith('g2/')
          : name.startsWith('enc') || name.startsWith('g1/');
        assert(moved === shouldMove, `${strategy}: ${name} ${moved ? 'moved' : 'stayed'}`);
      }
      curves[strategy] = losses;
      // fine-tuning starts from the transferred weights only
      const ft = new UNet(be, cfg, 11);
      const fresh = await weights(be, ft);
      loadPretrained(
        ft,
        await saveParams(model.params, { stage: 'x', iteration: 0, bestValDice: null, config: null, state: null }),
        'stage',
        isLocal(strategy) ? 'local' : 'global',
        1,
      );
      const got = await weights(be, ft);
      for (const [name, w] of got) {
        const want = transferred(name, isLocal(strategy) ? 'local' : 'global', 1) ? after.get(name)! : fresh.get(name)!;
        assert(same(w, want), `${strategy}: ${name} after the transfer`);
      }
    }
    env.report.pretrainLosses = curves;
  },
};

const pretrainResumeCase: TestCase = {
  name: 'pre-training (G^D, then L^D) stopped and resumed from its checkpoint gives the same weights bit for bit',
  async run(env) {
    const be = env.gpu,
      vols = toyVolumes(4),
      S = 16,
      cfg = tinyUNet(3);
    for (const strategy of ['GD', 'LD'] as const) {
      const o = tinyPretrain(strategy);
      const straight = pretrainModel(be, cfg, S, o, 5);
      await pretrain(straight, vols, S, o);
      const first = pretrainModel(be, cfg, S, o, 5);
      let saved: Uint8Array | null = null;
      await pretrain(first, vols, S, { ...o, iterations: 2 }, undefined, {
        every: 2,
        save: async (b) => {
          saved = b;
        },
      });
      const resumed = pretrainModel(be, cfg, S, o, 77); // another init: everything must come from the checkpoint
      await pretrain(resumed, vols, S, o, undefined, {
        every: 100,
        save: async () => {},
        resume: { bytes: saved!, source: 'mem' },
      });
      const a = await weights(be, straight),
        b = await weights(be, resumed);
      for (const [name, w] of a) assert(same(w, b.get(name)!), `${strategy}: ${name} differs after resuming`);
    }
  },
};

export const contrastiveCases: TestCase[] = [
  countsCase,
  referenceCase,
  ...kernelCases(GPU_SIDE),
  regionCase(GPU_SIDE),
  stageCase,
  pretrainResumeCase,
  ...kernelCases(WASM_SIDE),
  regionCase(WASM_SIDE),
];

const pretextCase: TestCase = {
  name: 'pretext baselines: rotation, patch swapping and blanking are exact; each task trains the tiny UNet and its weights transfer',
  async run(env) {
    const S = 6,
      x = Float32Array.from({ length: S * S }, (_, i) => i);
    const r1 = rotate90(x, S, 1);
    assert(
      r1[0] === x[S - 1] &&
        same(rotate90(rotate90(rotate90(r1, S, 1), S, 1), S, 1), x) &&
        same(rotate90(x, S, 2), rotate90(r1, S, 1)),
      'rotations',
    );
    const rng = new Rng(4),
      sw = swapPatches(x, S, rng, 3, 2);
    assert(
      same(Float32Array.from(sw).sort(), Float32Array.from(x).sort()) && !same(sw, x),
      'patch swapping permutes values',
    );
    const bl = blankRectangle(
        Float32Array.from(x, (v) => v + 1),
        S,
        rng,
      ),
      zeros = bl.filter((v) => v === 0).length;
    assert(zeros >= 1 && zeros <= (S / 2) * (S / 2) + S, `a blanked rectangle (${zeros} zeros)`);
    const be = env.gpu,
      vols = toyVolumes(3),
      cfg = tinyUNet(3);
    for (const task of PRETEXT_TASKS) {
      const model = pretextModel(be, cfg, 16, task, 2);
      const before = await weights(be, model);
      const { losses } = await pretrainPretext(model, vols, 16, { task, iterations: 3, batch: 2, seed: 1 });
      assert(losses.length === 3 && losses.every(Number.isFinite), `${task}: ${losses}`);
      const after = await weights(be, model);
      for (const [name, w] of after) {
        const moved = !same(w, before.get(name)!);
        const should = task === 'rotation' ? name.startsWith('enc') || name.startsWith('g1/') : true;
        assert(moved === should, `${task}: ${name} ${moved ? 'moved' : 'stayed'}`);
      }
    }
  },
};

contrastiveCases.push(pretextCase);

/** One training loop under test: `run` trains a model made by `make(seed)` for 4 iterations. */
interface LoopUnderTest {
  name: string;
  make(seed: number): UNet<unknown>;
  run(model: UNet<unknown>, ckpt?: CheckpointHooks): Promise<{ losses: number[]; stopped: boolean }>;
}

function loopsUnderTest(be: Backend<unknown>): LoopUnderTest[] {
  const S = 16,
    cfg = tinyUNet(3),
    vols = toyVolumes(4),
    labeled = [preparedFromBatch('a', S, 3, 1), preparedFromBatch('b', S, 3, 2)];
  const ft: FinetuneOptions = { ...PAPER_FINETUNE, iterations: 4, batch: 2, valEvery: 2, seed: 5 };
  const loops: LoopUnderTest[] = [
    {
      name: 'fine-tuning',
      make: (seed) => new UNet(be, cfg, seed),
      run: (m, ck) => finetune(m, labeled, [], ft, undefined, ck),
    },
  ];
  for (const strategy of ['GD', 'LR'] as const) {
    const o = tinyPretrain(strategy, { batch: 3 });
    loops.push({
      name: strategy,
      make: (seed) => pretrainModel(be, cfg, S, o, seed),
      run: (m, ck) => pretrain(m, vols, S, o, undefined, ck),
    });
  }
  for (const task of PRETEXT_TASKS) {
    const o = { task, iterations: 4, batch: 2, seed: 1 };
    loops.push({
      name: task,
      make: (seed) => pretextModel(be, cfg, S, task, seed),
      run: (m, ck) => pretrainPretext(m, vols, S, o, undefined, ck),
    });
  }
  return loops;
}

/**
 * Every loop (fine-tuning, contrastive and pretext stages) cancelled by an AbortSignal after its first step, resumed,
 * cancelled by `stop` after its third, and resumed again ends with the uninterrupted run's losses and weights.
 */
async function stopAndResume(be: Backend<unknown>, l: LoopUnderTest): Promise<void> {
  const straight = l.make(5),
    want = await l.run(straight);
  const saved: { it: number; bytes: Uint8Array }[] = [],
    save = async (bytes: Uint8Array, it: number) => void saved.push({ it, bytes });
  const ac = new AbortController();
  ac.abort();
  const a = await l.run(l.make(5), { every: 100, save, signal: ac.signal });
  assert(
    a.stopped && a.losses.length === 1 && saved.map((s) => s.it).join() === '1',
    `${l.name}: aborted: ${saved.map((s) => s.it)}`,
  );
  let asked = 0;
  const resume = () => ({ bytes: saved.at(-1)!.bytes, source: `${l.name} iteration ${saved.at(-1)!.it}` });
  const b = await l.run(l.make(77), { every: 100, save, resume: resume(), stop: () => ++asked === 2 });
  assert(b.stopped && b.losses.length === 2 && saved.at(-1)!.it === 3, `${l.name}: stopped after ${saved.at(-1)!.it}`);
  const last = l.make(78),
    c = await l.run(last, { every: 100, save, resume: resume() });
  assert(!c.stopped && c.losses.length === 1 && saved.at(-1)!.it === 4, `${l.name}: resumed to ${saved.at(-1)!.it}`);
  const losses = [...a.losses, ...b.losses, ...c.losses];
  assert(
    same(Float32Array.from(losses), Float32Array.from(want.losses)),
    `${l.name}: losses ${losses} vs ${want.losses}`,
  );
  const w0 = await weights(be, straight),
    w1 = await weights(be, last);
  for (const [name, w] of w0) assert(same(w, w1.get(name)!), `${l.name}: ${name} differs after stopping twice`);
  for (const m of [straight, last]) m.params.dispose();
}

contrastiveCases.push({
  name: 'loops: fine-tuning, G^D, L^R and every pretext task stop on an AbortSignal or stop() with a checkpoint, and resume to the same bits (wasm)',
  async run(env) {
    const be = env.wasm as Backend<unknown>;
    for (const l of loopsUnderTest(be)) await stopAndResume(be, l);
  },
});

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The stage driver (Session, experiment and CLI alike): G^D then L^D stopped in each stage and resumed, and a
 * pretext stage aborted and resumed, end on the uninterrupted run's checkpoint byte for byte.
 */
async function driverStopResume(be: Backend<unknown>): Promise<void> {
  const S = 16,
    cfg = tinyUNet(3),
    vols = toyVolumes(4);
  const o = (st: 'GD' | 'LD') => tinyPretrain(st, { iterations: 3, batch: 3 });
  const run = (stages: StageSpec[], stop?: () => boolean, resume?: Uint8Array, signal?: AbortSignal) =>
    runStages({
      be,
      cfg,
      size: S,
      vols,
      stages,
      every: 100,
      stop,
      signal,
      store: memoryStageStore(stages[0].name, resume && { bytes: resume, source: 'mem' }),
    });
  const specs: StageSpec[] = [
    { name: 'pretrain-GD', pretrain: o('GD') },
    { name: 'pretrain-LD', pretrain: o('LD') },
  ];
  const want = await run(specs);
  let asked = 0;
  const a = await run(specs, () => ++asked === 2); // after G^D's iteration 2
  assert(a.stopped && a.iteration === 2, `stopped in stage 1 after ${a.iteration}`);
  const b = await run(specs, () => ++asked === 4, a.bytes); // G^D's iteration 3, then L^D's iteration 1
  assert(b.stopped && b.iteration === 1, `stopped in stage 2 after ${b.iteration}`);
  const c = await run(specs.slice(1), undefined, b.bytes);
  assert(!c.stopped && c.iteration === 3 && sameBytes(c.bytes, want.bytes), 'G^D+L^D resumed twice differs');
  const pretext: StageSpec[] = [
    { name: 'pretext-restoration', pretext: { task: 'restoration', iterations: 3, batch: 2, seed: 1 } },
  ];
  const ac = new AbortController();
  ac.abort();
  const [p0, p1] = [await run(pretext), await run(pretext, undefined, undefined, ac.signal)];
  assert(p1.stopped && p1.iteration === 1, `pretext aborted after ${p1.iteration}`);
  const p2 = await run(pretext, undefined, p1.bytes);
  assert(!p2.stopped && p2.iteration === 3 && sameBytes(p2.bytes, p0.bytes), 'the pretext stage resumed differs');
}

contrastiveCases.push({
  name: 'loops: the pre-training stage driver stops in either stage and in a pretext stage, and resumes to the same checkpoint bytes (wasm)',
  run: (env) => driverStopResume(env.wasm as Backend<unknown>),
});
