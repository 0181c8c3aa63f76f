// glocal command line. Until the data pipeline lands, `demo` trains a small UNet on a synthetic batch.
import { Runtime } from './runtime/runtime.ts';
import { GpuBackend } from './ops/gpu.ts';
import { describeAdapter } from './device/gpu.ts';
import { UNet, tinyUNet, paperUNet } from './model/unet.ts';
import { SegmentationTrainer } from './train/segmentation.ts';
import { syntheticBatch } from './data/synthetic-batch.ts';

const USAGE = `usage: glocal demo [--steps N] [--size S] [--batch B] [--paper]
  demo   train a UNet on a synthetic two-shape batch with the soft Dice loss and Adam, printing the loss
         --paper uses the paper's full UNet (default: a 2-level UNet), --size in pixels (default 32)`;

function flag(args: string[], name: string, def: number): number {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer, got '${args[i + 1]}'`);
  return v;
}

async function demo(args: string[]): Promise<void> {
  const steps = flag(args, '--steps', 60), size = flag(args, '--size', 32), batch = flag(args, '--batch', 4);
  const paper = args.includes('--paper');
  if (paper && size % 32 !== 0) throw new Error('--paper needs --size divisible by 32 (five 2x2 poolings)');
  const rt = await Runtime.create();
  console.log(`adapter: ${describeAdapter(rt.gpu.info)}`);
  const be = new GpuBackend(rt);
  const cfg = paper ? paperUNet(3) : tinyUNet(3);
  const model = new UNet(be, cfg, 1);
  console.log(`model: ${paper ? 'paper UNet' : '2-level UNet'}, ${model.params.count} parameters; batch ${batch} of ${size}x${size}, ${steps} steps`);
  const { x, y } = syntheticBatch(batch, size, 3, 42);
  const xs = be.fromHost(x, [batch, size, size, 1]), ys = be.fromHost(y, [batch, size, size, 3]);
  const trainer = new SegmentationTrainer(model);
  const t0 = performance.now();
  let first = 0, last = 0;
  for (let i = 0; i < steps; i++) {
    last = await trainer.step(xs, ys);
    if (i === 0) first = last;
    if (i % 10 === 0 || i === steps - 1) console.log(`step ${String(i + 1).padStart(4)}  dice loss ${last.toFixed(4)}`);
  }
  const ms = (performance.now() - t0) / steps;
  console.log(`loss ${first.toFixed(4)} -> ${last.toFixed(4)} (${(100 * (1 - last / first)).toFixed(1)}% lower), ${ms.toFixed(1)} ms per step`);
  rt.destroy();
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === 'demo') await demo(rest);
  else {
    console.log(USAGE);
    process.exitCode = cmd === undefined || cmd === '--help' || cmd === 'help' ? 0 : 2;
  }
} catch (e) {
  console.error(`glocal: ${(e as Error).message}`);
  process.exitCode = 1;
}
