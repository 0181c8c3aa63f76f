// glocal demo: a small UNet trained on one synthetic batch, a smoke test of the backend.
import { UNet, paperUNet, tinyUNet } from '../model/unet.ts';
import { SegmentationTrainer } from '../train/segmentation.ts';
import { syntheticBatch } from '../data/synthetic-batch.ts';
import { runtime } from './common.ts';

export interface DemoArgs {
  steps: number;
  size: number;
  batch: number;
  paper?: boolean;
}

const demoNetwork = (paper?: boolean) => (paper ? paperUNet(3) : tinyUNet(3));

/** The --size error of a side the network cannot pool down, or null (checked before the backend opens). */
export function demoSizeError(a: DemoArgs): string | null {
  const pools = 2 ** (demoNetwork(a.paper).encoder.length - 1);
  return a.size % pools
    ? `--size ${a.size}: the ${a.paper ? "paper's" : 'small'} UNet needs a multiple of ${pools}`
    : null;
}

export async function demo(a: DemoArgs): Promise<void> {
  const { ob, be } = await runtime();
  const model = new UNet(be, demoNetwork(a.paper), 1);
  const { x, y } = syntheticBatch(a.batch, a.size, 3, 42);
  const trainer = new SegmentationTrainer(model);
  const xs = be.fromHost(x, [a.batch, a.size, a.size, 1]),
    ys = be.fromHost(y, [a.batch, a.size, a.size, 3]);
  for (let i = 0; i < a.steps; i++) {
    const l = await trainer.step(xs, ys);
    if (i % 10 === 0 || i === a.steps - 1) console.log(`step ${String(i + 1).padStart(4)}  dice loss ${l.toFixed(4)}`);
  }
  ob.close();
}
