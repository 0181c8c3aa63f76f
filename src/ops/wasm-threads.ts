// Runs the WebAssembly backend's kernels over tasks on this thread and, where the platform allows, on worker
// threads that instantiate the same module on the same shared memory (Node worker_threads, Deno and browser
// workers; a page must be cross-origin isolated). Which thread runs a task never changes its result
// (kernels/nn/index.ts), so any split, and any thread count, gives the same bits.
//
// Protocol over a control block in the scratch area. A job's tasks are cut into pieces (a few per thread), each
// with a claim word. The host writes the job (kernel, arguments, task and piece counts), sets every claim word
// to GEN, then bumps GEN to GEN+1; a thread takes a piece by compare-exchanging its word from GEN to GEN+1, runs
// it and adds 1 to DONE. Workers start at their own share of pieces, the host at the first; when its own are
// done the host takes whatever no worker has started, so a worker the OS has not scheduled delays nothing; the
// host returns when DONE counts every piece. A claim only succeeds during its own job (the words carry the
// generation), so a late worker can never run a piece of another job.

import type { WasmHeap } from './wasm-heap.ts';
import { WebWorker } from '../runtime/web-worker.ts';

export interface TaskRunner {
  readonly threads: number;
  /** Run kernel `name`(...args, t0, t1) over tasks 0…tasks−1, returning when every task is done. */
  run(name: string, args: number[], tasks: number): void;
  /**
   * When set (WasmBackend's profile): ms this thread spent waiting, after running what pieces it could, for pieces
   * a worker had started, summed over jobs. Single-threaded runners never wait.
   */
  waited: { ms: number } | null;
  destroy(): void;
}

/** Control words (Int32 indices) at the scratch area's CONTROL offset; claim words, then arguments as float64. */
const GEN = 0,
  DONE = 1,
  TASKS = 2,
  KERNEL = 3,
  NARGS = 4,
  STOP = 5,
  FAILED = 6,
  PIECES = 7,
  CLAIMS = 16;
const MAX_PIECES = 64,
  PIECES_PER_THREAD = 4,
  CONTROL = 4096,
  WORDS = CLAIMS + MAX_PIECES,
  ARGS = CONTROL + 4 * WORDS,
  MAX_ARGS = 32;
/** Polls of GEN before a worker sleeps in Atomics.wait (about 20–50 µs: consecutive kernels come sooner). */
const SPIN = 20000;

class SingleThread implements TaskRunner {
  readonly threads = 1;
  waited: { ms: number } | null = null;
  constructor(private readonly heap: WasmHeap) {}
  run(name: string, args: number[], tasks: number): void {
    this.heap.exports[name](...args, 0, tasks);
  }
  destroy(): void {}
}

/** The worker's program (plain JS: it runs from a string in every runtime). `onMessage(cb)` is defined first. */
const workerBody = `
const GEN = ${GEN}, DONE = ${DONE}, TASKS = ${TASKS}, KERNEL = ${KERNEL}, NARGS = ${NARGS}, STOP = ${STOP}, FAILED = ${FAILED};
const PIECES = ${PIECES}, CLAIMS = ${CLAIMS};
onMessage(async ({ bytes, memory, names, scratch, index, threads }) => {
  const module = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const fns = names.map((n) => instance.exports[n]);
  const ctl = new Int32Array(memory.buffer, scratch + ${CONTROL}, ${WORDS});
  const args = new Float64Array(memory.buffer, scratch + ${ARGS}, ${MAX_ARGS});
  post('ready');
  let gen = 0;
  for (;;) {
    for (let i = 0; i < ${SPIN} && Atomics.load(ctl, GEN) === gen; i++);
    if (Atomics.load(ctl, GEN) === gen) Atomics.wait(ctl, GEN, gen);
    gen = Atomics.load(ctl, GEN);
    if (Atomics.load(ctl, STOP)) return;
    const pieces = ctl[PIECES], first = Math.floor((pieces * index) / threads);
    for (let k = 0; k < pieces; k++) {
      const p = (first + k) % pieces;
      if (Atomics.compareExchange(ctl, CLAIMS + p, gen - 1, gen) !== gen - 1) continue;
      // claimed: the job cannot change before this piece is counted, so what is read now is its own
      const tasks = ctl[TASKS], n = ctl[PIECES];
      try {
        fns[ctl[KERNEL]](...Array.from(args.subarray(0, ctl[NARGS])), Math.floor((tasks * p) / n), Math.floor((tasks * (p + 1)) / n));
      } catch (e) {
        Atomics.store(ctl, FAILED, 1);
      }
      Atomics.add(ctl, DONE, 1);
    }
  }
});`;

const nodePrelude = `const { parentPort } = require('node:worker_threads');
const onMessage = (cb) => parentPort.once('message', cb);
const post = (m) => parentPort.postMessage(m);`;
const webPrelude = `const onMessage = (cb) => { self.onmessage = (e) => { self.onmessage = null; cb(e.data); }; };
const post = (m) => self.postMessage(m);`;

interface Spawned {
  ready: Promise<void>;
  post(m: unknown): void;
  terminate(): void;
}

const isNode = () =>
  typeof (globalThis as any).Deno === 'undefined' && typeof (globalThis as any).process?.versions?.node === 'string';

async function spawn(): Promise<Spawned> {
  let ready!: () => void, fail!: (e: Error) => void;
  const readyP = new Promise<void>((res, rej) => {
    ready = res;
    fail = rej;
  });
  if (isNode()) {
    const wt = 'node:worker_threads'; // computed: browser and Deno bundles must not resolve it
    const { Worker } = await import(/* @vite-ignore */ wt);
    const w = new Worker(nodePrelude + workerBody, { eval: true });
    w.unref(); // idle kernel threads must not keep the process alive
    w.once('message', () => ready());
    w.once('error', (e: Error) => fail(e));
    return { ready: readyP, post: (m) => w.postMessage(m), terminate: () => void w.terminate() };
  }
  if (!WebWorker) throw new Error('wasm backend: this runtime has no web Worker for its kernel threads');
  const url = URL.createObjectURL(new Blob([webPrelude + workerBody], { type: 'text/javascript' }));
  const w = new WebWorker(url, { type: 'module' });
  w.onmessage = () => ready();
  w.onerror = (e) => {
    e.preventDefault();
    fail(new Error(`wasm kernel worker failed to start: ${e.message}`));
  };
  return {
    ready: readyP,
    post: (m) => w.postMessage(m),
    terminate: () => {
      w.terminate();
      URL.revokeObjectURL(url);
    },
  };
}

class WorkerPool implements TaskRunner {
  private readonly ctl: Int32Array;
  private readonly args: Float64Array;
  private readonly kernelIndex = new Map<string, number>();
  private gen = 0;
  waited: { ms: number } | null = null;

  constructor(
    private readonly heap: WasmHeap,
    private readonly workers: Spawned[],
    names: string[],
  ) {
    this.ctl = new Int32Array(heap.memory.buffer, heap.scratch + CONTROL, WORDS);
    this.args = new Float64Array(heap.memory.buffer, heap.scratch + ARGS, MAX_ARGS);
    names.forEach((n, i) => this.kernelIndex.set(n, i));
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  run(name: string, args: number[], tasks: number): void {
    const fn = this.heap.exports[name];
    if (tasks < 2) {
      fn(...args, 0, tasks);
      return;
    } // not worth waking anyone
    if (args.length > MAX_ARGS) throw new Error(`wasm backend: ${name} has more than ${MAX_ARGS} arguments`);
    const ctl = this.ctl,
      pieces = Math.min(tasks, MAX_PIECES, PIECES_PER_THREAD * this.threads),
      g = ++this.gen;
    this.args.set(args);
    ctl[KERNEL] = this.kernelIndex.get(name)!;
    ctl[NARGS] = args.length;
    ctl[TASKS] = tasks;
    ctl[PIECES] = pieces;
    for (let p = 0; p < MAX_PIECES; p++) Atomics.store(ctl, CLAIMS + p, g - 1);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, GEN, g);
    Atomics.notify(ctl, GEN);
    for (let p = 0; p < pieces; p++) {
      if (Atomics.compareExchange(ctl, CLAIMS + p, g - 1, g) !== g - 1) continue;
      fn(...args, Math.floor((tasks * p) / pieces), Math.floor((tasks * (p + 1)) / pieces));
      Atomics.add(ctl, DONE, 1);
    }
    const t0 = this.waited ? performance.now() : 0;
    while (Atomics.load(ctl, DONE) < pieces); // pieces a worker started: finishing, the rest are done
    if (this.waited) this.waited.ms += performance.now() - t0;
    if (Atomics.load(ctl, FAILED)) throw new Error(`wasm backend: kernel ${name} failed on a worker thread`);
  }

  destroy(): void {
    Atomics.store(this.ctl, STOP, 1);
    Atomics.store(this.ctl, GEN, ++this.gen);
    Atomics.notify(this.ctl, GEN);
    for (const w of this.workers) w.terminate();
  }
}

/** Threads where the memory is shared and workers start; otherwise this thread alone. */
export async function createTaskRunner(heap: WasmHeap, threads: number, bytes: Uint8Array): Promise<TaskRunner> {
  const shared = typeof SharedArrayBuffer !== 'undefined' && heap.memory.buffer instanceof SharedArrayBuffer;
  if (threads <= 1 || !shared) return new SingleThread(heap);
  const names = Object.keys(heap.exports).filter((k) => typeof heap.exports[k] === 'function');
  const workers: Spawned[] = [];
  try {
    for (let i = 1; i < threads; i++) workers.push(await spawn());
    workers.forEach((w, i) =>
      w.post({ bytes, memory: heap.memory, names, scratch: heap.scratch, index: i + 1, threads }),
    );
    await Promise.all(workers.map((w) => w.ready));
  } catch (e) {
    workers.forEach((w) => w.terminate());
    throw e;
  }
  return new WorkerPool(heap, workers, names);
}
