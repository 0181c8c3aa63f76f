// The float64 reference against vectors generated once with PyTorch (scripts/golden.py, float64 torch).

import golden from '../golden/golden.json';
import { type TestCase, assertClose } from '../harness.ts';
import { ADAM_DEFAULTS, type ConvSpec } from '../../src/ops/backend.ts';
import { RefBackend, RefTensor } from '../../src/ops/reference.ts';

type T = { shape: number[]; data: number[] };
const cases = (golden as any).cases as Record<string, Record<string, any>>;
const ref = new RefBackend();
const t = (v: T) => new RefTensor(v.shape, Float64Array.from(v.data));
const TOL = 1e-10;

function convCase(name: string): TestCase {
  return {
    name: `reference ${name} matches PyTorch`,
    async run() {
      const c = cases[name];
      const spec: ConvSpec = { kh: c.w.shape[0], kw: c.w.shape[1], padT: c.pad.top, padL: c.pad.left };
      assertClose('y', ref.conv2d(t(c.x), t(c.w), t(c.b), spec).data, c.y.data, TOL);
      assertClose('dx', ref.conv2dInputGrad(t(c.dy), t(c.w), spec).data, c.dx.data, TOL);
      assertClose('dw', ref.conv2dWeightGrad(t(c.x), t(c.dy), spec).data, c.dw.data, TOL);
      assertClose('db', ref.channelSum(t(c.dy)).data, c.db.data, TOL);
    },
  };
}

export const goldenCases: TestCase[] = [
  convCase('conv3x3'),
  convCase('conv2x2_same'),
  convCase('conv1x1'),
  {
    name: 'reference batch norm (biased batch variance, TF moving averages) matches PyTorch',
    async run() {
      const c = cases.batchnorm_train;
      const rm = t(c.running_mean_in),
        rv = t(c.running_var_in);
      const r = ref.batchNormTrain(
        t(c.x),
        { gamma: t(c.gamma), beta: t(c.beta), runMean: rm, runVar: rv },
        { eps: c.eps, decay: c.decay },
      );
      assertClose('y', r.y.data, c.y.data, TOL);
      assertClose('mean', r.mean.data, c.mean.data, TOL);
      assertClose(
        'invstd',
        r.invstd.data,
        c.var_biased.data.map((v: number) => 1 / Math.sqrt(v + c.eps)),
        TOL,
      );
      assertClose('moving mean', rm.data, c.running_mean_out.data, TOL);
      assertClose('moving variance', rv.data, c.running_var_out_unbiased.data, TOL);
      const g = ref.batchNormBackward(t(c.x), t(c.dy), t(c.gamma), r.mean, r.invstd);
      assertClose('dx', g.dx.data, c.dx.data, TOL);
      assertClose('dgamma', g.dgamma.data, c.dgamma.data, TOL);
      assertClose('dbeta', g.dbeta.data, c.dbeta.data, TOL);
    },
  },
  {
    name: 'reference softmax + soft Dice loss matches PyTorch',
    async run() {
      const c = cases.softmax_dice;
      const r = ref.diceLoss(t(c.logits), t(c.onehot), c.smooth);
      assertClose('probs', r.probs.data, c.probs.data, TOL);
      assertClose('loss', r.loss.data, [c.loss], TOL);
      const dz = ref.diceBackward(r.probs, t(c.onehot), r.stats, ref.full([1], 1));
      assertClose('dlogits', dz.data, c.dlogits.data, TOL);
    },
  },
  {
    name: 'reference class-weighted softmax cross-entropy matches PyTorch',
    async run() {
      const c = cases.softmax_ce_weighted;
      const w = ref.fromHost(c.weights.data ?? c.weights, [4]);
      const r = ref.crossEntropy(t(c.logits), t(c.onehot), w);
      assertClose('loss', r.loss.data, [c.loss], TOL);
      assertClose(
        'dlogits',
        ref.crossEntropyBackward(r.probs, t(c.onehot), w, ref.full([1], 1)).data,
        c.dlogits.data,
        TOL,
      );
    },
  },
  {
    name: 'reference max-pool, L2 normalisation, dense and Adam match PyTorch',
    async run() {
      const mp = cases.maxpool2;
      const p = ref.maxPool2(t(mp.x));
      assertClose('max-pool y', p.y.data, mp.y.data, TOL);
      assertClose('max-pool dx', ref.maxPool2Backward(t(mp.dy), p.arg, mp.x.shape).data, mp.dx.data, TOL);
      const l2 = cases.l2normalize;
      const n = ref.l2normalize(t(l2.x));
      assertClose('l2 y', n.y.data, l2.y.data, TOL);
      assertClose('l2 dx', ref.l2normalizeBackward(n.y, n.norms, t(l2.dy)).data, l2.dx.data, TOL);
      const d = cases.dense;
      assertClose('dense y', ref.matmul(t(d.x), t(d.w), false, false).data, d.y.data, TOL);
      assertClose('dense dx', ref.matmul(t(d.dy), t(d.w), false, true).data, d.dx.data, TOL);
      assertClose('dense dw', ref.matmul(t(d.x), t(d.dy), true, false).data, d.dw.data, TOL);
      const a = cases.adam;
      const pr = t(a.p0),
        m = ref.full(pr.shape, 0),
        v = ref.full(pr.shape, 0);
      const o = { ...ADAM_DEFAULTS, lr: a.lr, beta1: a.beta1, beta2: a.beta2, eps: a.epsilon };
      ['g1', 'g2', 'g3'].forEach((k, i) => {
        ref.adam([{ p: pr, g: t(a[k]), m, v }], i + 1, o);
        assertClose(`adam p${i + 1}`, pr.data, a[`p${i + 1}`].data, TOL);
      });
    },
  },
];
