// The browser app's pure parts (app/), in every runtime: the loss plot's x axis.
import { type TestCase, assert } from '../harness.ts';
import { plotX } from '../../app/progress.ts';
import { pretrainStageNames } from '../../src/api/session.ts';

export const appCases: TestCase[] = [
  {
    name: "app: a pre-training resumed in its local stage plots in that stage's range of the x axis, not over the global stage's",
    async run() {
      // the order the app passes (Session's stage names) and the names Session reports
      const order = pretrainStageNames({ strategy: 'GD', local: 'LD' }),
        at = (stage: string, iteration: number) => plotX(order, 100, { stage, iteration, iterations: 100, loss: 1 });
      assert(at('pretrain-GD', 30) === 30, `global iteration 30 at x ${at('pretrain-GD', 30)}`);
      // the first report of a run resumed at local iteration 26 (the global stage is not run again)
      assert(at('pretrain-LD', 26) === 126, `local iteration 26 at x ${at('pretrain-LD', 26)}, want 126`);
      assert(plotX(['finetune'], 800, { stage: 'finetune', iteration: 5, iterations: 800, loss: 1 }) === 5, 'finetune');
    },
  },
];
