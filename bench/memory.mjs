// Peak live GPU bytes of one paper-UNet train step (b20, 192², Dice + Adam), counted by the runtime's pool: the
// buffers' real sizes and what the tensors asked for (the difference is size-class rounding). Adapter-independent
// except for kernel choices, so it runs on the software GPU too (2-3 min there). Run: `npm run bench:memory`;
// `npm run bench:memory -- --by-origin` also lists what the step had allocated and still held at its peak,
// grouped by the backend op that allocated it (bench/NOTES.md §7).
const g = await import('../dist/index.js');
const byOrigin = process.argv.includes('--by-origin');
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
let atPeak = [];
if (byOrigin) { // wrap the pool: each buffer the step acquires, tagged with the first GpuBackend frame that asked
  const pool = rt.pool, acquire = pool.acquire.bind(pool), release = pool.release.bind(pool), live = new Map();
  pool.acquire = (bytes) => {
    const pb = acquire(bytes);
    const frame = new Error().stack.split('\n').find((l) => l.includes('GpuBackend.')) ?? '';
    live.set(pb, { bytes, op: /GpuBackend\.(\w+)/.exec(frame)?.[1] ?? '(other)' });
    if (st.liveRequestedBytes === st.peakRequestedBytes) atPeak = [...live.values()];
    return pb;
  };
  pool.release = (pb) => { live.delete(pb); release(pb); };
}
await trainer.step(xs, ys);
const mib = (v) => (v / 2 ** 20).toFixed(0);
const params = model.params.count * 4;
console.log(JSON.stringify({ paramsMiB: mib(params), paramsAdamGradsMiB: mib(4 * params), inputsMiB: mib(xs.bytes + ys.bytes),
  betweenSteps: { buffers: mib(before.live), requested: mib(before.req) }, peak: { buffers: mib(st.peakLiveBytes), requested: mib(st.peakRequestedBytes) },
  poolCreated: mib(st.createdBytes) })); // every buffer the pool made, live or free (PyTorch's counterpart: max_memory_reserved)
if (byOrigin) {
  const ops = new Map();
  for (const { op, bytes } of atPeak) { const o = ops.get(op) ?? { n: 0, bytes: 0 }; o.n++; o.bytes += bytes; ops.set(op, o); }
  console.log('\nheld at the peak, allocated during the step (MiB asked for, tensors, backend op):');
  for (const [op, o] of [...ops].sort((a, b) => b[1].bytes - a[1].bytes)) if (o.bytes >= 2 ** 20) console.log(`${mib(o.bytes).padStart(6)} ${String(o.n).padStart(4)}  ${op}`);
}
process.exit(0);
