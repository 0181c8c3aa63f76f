// Peak live GPU bytes of one paper-UNet train step (b20, 192², Dice + Adam), counted by the runtime's pool: the
// buffers' real sizes and what the tensors asked for (the difference is size-class rounding). Adapter-independent
// except for kernel choices, so it runs on the software GPU too (2-3 min there). Run: `npm run bench:memory`.
const g = await import('../dist/index.js');
const rt = await g.Runtime.create(), be = new g.GpuBackend(rt);
const B = 20, S = 192, K = 4;
const model = new g.UNet(be, g.paperUNet(K, 1), 1), trainer = new g.SegmentationTrainer(model);
const x = new Float32Array(B * S * S).map((_, i) => (i % 97) / 97), y = new Float32Array(B * S * S * K);
for (let p = 0; p < B * S * S; p++) y[p * K + (p % K)] = 1;
const xs = be.fromHost(x, [B, S, S, 1]), ys = be.fromHost(y, [B, S, S, K]);
await trainer.step(xs, ys); // Adam state allocated
const st = rt.pool.stats;
const before = { live: st.liveBytes, req: st.liveRequestedBytes };
st.peakLiveBytes = st.liveBytes; st.peakRequestedBytes = st.liveRequestedBytes;
await trainer.step(xs, ys);
const mib = (v) => (v / 2 ** 20).toFixed(0);
const params = model.params.count * 4;
console.log(JSON.stringify({ paramsMiB: mib(params), paramsAdamGradsMiB: mib(4 * params), inputsMiB: mib(xs.bytes + ys.bytes),
  betweenSteps: { buffers: mib(before.live), requested: mib(before.req) }, peak: { buffers: mib(st.peakLiveBytes), requested: mib(st.peakRequestedBytes) } }));
process.exit(0);
