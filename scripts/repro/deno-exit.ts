// A user's Deno script (issue 27 item 12): a seeded 3-step training of a tiny UNet on WebGPU, then the device is
// released; the script must exit 0. scripts/deno-exit.mjs runs it 20 times (with `deno run` and `deno test`).
// It prints its losses, the wgpu backend choice glocal left in DENO_WEBGPU_BACKEND (src/runtime/device.ts) and
// whether libEGL was loaded (Linux).
//   npx deno run --allow-all scripts/repro/deno-exit.ts   (after npm run build)
import { GpuBackend, Rng, Runtime, SegmentationTrainer, UNet, tinyUNet } from '../../dist/index.js';

const rt = await Runtime.create();
const be = new GpuBackend(rt),
  rng = new Rng(7);
const [B, S, K] = [2, 16, 3];
const x = Float32Array.from({ length: B * S * S }, () => rng.uniform(0, 1));
const y = new Float32Array(B * S * S * K).map((_, i) => (i % K === (i >> 6) % K ? 1 : 0));
const model = new UNet(be, tinyUNet(K), 1),
  trainer = new SegmentationTrainer(model);
const xs = be.fromHost(x, [B, S, S, 1]),
  ys = be.fromHost(y, [B, S, S, K]);
const losses: number[] = [];
for (let i = 0; i < 3; i++) losses.push(await trainer.step(xs, ys));
model.params.dispose();
rt.destroy();
// the abort's cause is libEGL's exit-time teardown: on Linux say whether wgpu loaded it into this process
const egl = Deno.build.os === 'linux' ? Deno.readTextFileSync('/proc/self/maps').includes('libEGL') : undefined;
const backend = Deno.env.get('DENO_WEBGPU_BACKEND') ?? 'all';
console.log(`backend ${backend}; libEGL ${egl === undefined ? 'n/a' : egl ? 'loaded' : 'not loaded'}; losses ${losses.map((l) => l.toFixed(7)).join(' ')}`);
