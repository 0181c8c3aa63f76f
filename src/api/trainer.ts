// createTrainer: the Session API in this thread, or off it in a worker (a browser or Deno module Worker, or a
// Node worker_threads Worker through comlink's node adapter), with one interface for both. Progress callbacks
// cross as comlink proxies; large buffers are transferred, not copied: the bytes of the volumes handed in are
// detached from the caller's side (keep a copy if you still need them), and results arrive without a copy.

import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { detectRuntime } from '../runtime/device.ts';
import { installErrorTransfer, TrainerError } from './errors.ts';
import {
  Session,
  type CheckpointFn,
  type FinetuneRequest,
  type NamedVolumeScore,
  type PretrainRequest,
  type ProgressFn,
  type Segmentation,
  type SessionOptions,
  type TrainResult,
  type VolumeFile,
} from './session.ts';
import { WebWorker } from '../runtime/web-worker.ts';

export interface TrainerOptions extends SessionOptions {
  /** run in a worker (default false) */
  worker?: boolean;
  /** the worker script (default: worker.js next to this module, as the build lays it out) */
  workerUrl?: URL | string;
  /** how long the worker may take to load and open its GPU device before createTrainer gives up (default 120 s) */
  workerTimeoutMs?: number;
}

// both sides of the worker import this module: errors cross with their class and fields (errors.ts)
installErrorTransfer();

/** The trainer's interface, the same in this thread and in a worker. */
export interface Trainer {
  adapter(): Promise<string>;
  pretrain(volumes: VolumeFile[], r?: PretrainRequest): Promise<TrainResult>;
  finetune(labeled: VolumeFile[], r?: FinetuneRequest): Promise<TrainResult>;
  loadModel(checkpoint: Uint8Array): Promise<void>;
  segment(volume: VolumeFile): Promise<Segmentation>;
  evaluate(volumes: VolumeFile[]): Promise<NamedVolumeScore[]>;
  exportOnnx(): Promise<Uint8Array>;
  /**
   * Stop the running pretrain/finetune after its current step; that call then resolves with stopped: true.
   * Resolves with the last iteration the call had finished when the request arrived.
   */
  cancel(): Promise<number>;
  /** release the GPU (and end the worker) */
  dispose(): Promise<void>;
}

/** The worker side: what worker.ts exposes. Results are marked for transfer. */
export class SessionHost {
  private session: Session | null = null;
  async init(o: SessionOptions): Promise<void> {
    this.session = await Session.create(o);
  }
  private get s(): Session {
    if (!this.session) throw new Error('trainer worker: not initialised');
    return this.session;
  }
  async adapter() {
    return this.s.adapter();
  }
  // comlink proxies only top-level arguments: the callbacks come as one proxied object of their own
  async pretrain(v: VolumeFile[], r: PretrainRequest, cb?: Comlink.Remote<Required<Callbacks>>) {
    return transferResult(await this.s.pretrain(v, { ...r, ...callbacks(cb) }));
  }
  async finetune(v: VolumeFile[], r: FinetuneRequest, cb?: Comlink.Remote<Required<Callbacks>>) {
    return transferResult(await this.s.finetune(v, { ...r, ...callbacks(cb) }));
  }
  async loadModel(b: Uint8Array) {
    return this.s.loadModel(b);
  }
  async segment(v: VolumeFile) {
    const r = await this.s.segment(v);
    return Comlink.transfer(r, [r.labels.buffer]);
  }
  async evaluate(v: VolumeFile[]) {
    return this.s.evaluate(v);
  }
  async exportOnnx() {
    const b = await this.s.exportOnnx();
    return Comlink.transfer(b, [b.buffer]);
  }
  cancel() {
    return this.session?.cancel() ?? 0;
  }
  dispose() {
    this.session?.dispose();
    this.session = null;
  }
}

const transferResult = (r: TrainResult) => Comlink.transfer(r, [r.checkpoint.buffer]);

/** The callbacks of a training request, proxied to the calling thread as one object. */
interface Callbacks {
  onProgress?: ProgressFn;
  onCheckpoint?: CheckpointFn;
}

/** The session-side callbacks for the proxied Callbacks object (the calling side always sends both). */
function callbacks(cb?: Comlink.Remote<Required<Callbacks>>): Pick<FinetuneRequest, 'onProgress' | 'onCheckpoint'> {
  if (!cb) return {};
  return {
    onProgress: (p) => {
      void cb.onProgress(p);
    },
    onCheckpoint: (b, it, stage) => {
      void cb.onCheckpoint(Comlink.transfer(b, [b.buffer as ArrayBuffer]), it, stage);
    },
  };
}

/**
 * The buffers of volumes to transfer, each listed once (postMessage refuses a buffer listed twice). A buffer an
 * earlier call already transferred is detached (0 bytes): posting it would be dropped on the way and the call would
 * never settle, so it is refused here with the volume's name.
 */
function volumeBuffers(vols: VolumeFile[]): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const v of vols) {
    for (const [what, b] of [
      ['image', v.image],
      ['label', v.label],
    ] as const) {
      if (b) set.add(transferable(b, `${v.name} (${what})`));
    }
  }
  return [...set];
}

/** The buffer of bytes to hand to the worker, refused when empty or already detached by an earlier call. */
function transferable(b: Uint8Array, what: string): ArrayBuffer {
  if (b.byteLength === 0) {
    throw new TrainerError(
      'detached-input',
      `${what}: no bytes (an earlier call on the worker trainer took them over: ` +
        'their buffer is transferred, not copied; pass a copy, e.g. image.slice(), to use them again)',
    );
  }
  return b.buffer as ArrayBuffer;
}

export async function createTrainer(o: TrainerOptions = {}): Promise<Trainer> {
  const { worker, workerUrl, workerTimeoutMs = 120_000, ...sessionOptions } = o;
  if (!worker) {
    const s = await Session.create(sessionOptions);
    return {
      adapter: async () => s.adapter(),
      pretrain: (v, r) => s.pretrain(v, r),
      finetune: (v, r) => s.finetune(v, r),
      loadModel: (b) => s.loadModel(b),
      segment: (v) => s.segment(v),
      evaluate: (v) => s.evaluate(v),
      exportOnnx: () => s.exportOnnx(),
      cancel: async () => s.cancel(),
      dispose: async () => s.dispose(),
    };
  }
  const url = workerUrl ?? new URL('./worker.js', import.meta.url);
  const w = await spawnWorker(url);
  const host = Comlink.wrap<SessionHost>(w.endpoint);
  // every call settles: with its result, or with the worker's failure (it did not load, or died) as a TrainerError
  const guard = <T>(call: () => Promise<T>): Promise<T> => Promise.race([Promise.resolve().then(call), w.failed]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TrainerError(
            'worker-timeout',
            `trainer worker ${String(url)}: no answer within ` +
              `${workerTimeoutMs} ms of starting (it did not load, or could not open a GPU device)`,
          ),
        ),
      workerTimeoutMs,
    );
  });
  try {
    await Promise.race([guard(() => host.init(sessionOptions)), timeout]);
  } catch (e) {
    await w.terminate();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return workerTrainer(host, w, guard);
}

/** The Trainer over a worker's SessionHost: volumes and checkpoints are transferred, callbacks proxied. */
function workerTrainer(
  host: Comlink.Remote<SessionHost>,
  w: SpawnedWorker,
  guard: <T>(call: () => Promise<T>) => Promise<T>,
): Trainer {
  // the request crosses without its callbacks, which become one proxied object (both always there)
  const noop = () => {};
  const split = <R extends Callbacks>(r: R | undefined): [R, Comlink.Remote<Required<Callbacks>>] => {
    const { onProgress, onCheckpoint, ...rest } = r ?? ({} as R);
    const cb = Comlink.proxy({ onProgress: onProgress ?? noop, onCheckpoint: onCheckpoint ?? noop });
    return [rest as R, cb as unknown as Comlink.Remote<Required<Callbacks>>];
  };
  const send = <A>(value: A, vols: VolumeFile[], extra: ArrayBuffer[] = []) =>
    Comlink.transfer(value, [...volumeBuffers(vols), ...extra]);
  const resumeBuffer = (r?: { resume?: Uint8Array }) =>
    r?.resume ? [transferable(r.resume, 'resume checkpoint')] : [];
  return {
    adapter: () => guard(() => host.adapter()),
    pretrain: (v, r) => guard(() => host.pretrain(send(v, v, resumeBuffer(r)), ...split(r))),
    finetune: (v, r) =>
      guard(() => host.finetune(send(v, [...v, ...(r?.validation ?? [])], resumeBuffer(r)), ...split(r))),
    loadModel: (b) => guard(() => host.loadModel(Comlink.transfer(b, [transferable(b, 'model checkpoint')]))),
    segment: (v) => guard(() => host.segment(send(v, [v]))),
    evaluate: (v) => guard(() => host.evaluate(send(v, v))),
    exportOnnx: () => guard(() => host.exportOnnx()),
    cancel: () => guard(() => host.cancel()),
    dispose: async () => {
      await guard(() => host.dispose()).catch(() => {}); // a worker that already died has nothing left to release
      host[Comlink.releaseProxy]();
      await w.terminate();
    },
  };
}

/** A started worker: its comlink endpoint, a promise that rejects when it fails to load or dies, and its end. */
interface SpawnedWorker {
  endpoint: Comlink.Endpoint;
  failed: Promise<never>;
  terminate: () => Promise<void>;
}

/** A module worker in this runtime, as a comlink endpoint. */
async function spawnWorker(url: URL | string): Promise<SpawnedWorker> {
  let fail!: (e: TrainerError) => void,
    terminated = false;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {}); // observed by the calls that race it; none may be pending when the worker fails
  const died = (why: string) => {
    if (!terminated) fail(new TrainerError('worker-failed', `trainer worker ${String(url)}: ${why}`));
  };
  if (detectRuntime() === 'node') {
    const wt = 'node:worker_threads'; // computed: browser and Deno bundles must not resolve it
    const { Worker } = await import(/* @vite-ignore */ wt);
    const w = new Worker(typeof url === 'string' ? new URL(url) : url);
    w.on('error', (e: Error) => died(`failed (${e.message})`));
    w.on('exit', (code: number) => died(`exited with code ${code}`));
    w.on('messageerror', (e: Error) => died(`a message could not be read (${e.message})`));
    return {
      endpoint: nodeEndpoint(w),
      failed,
      terminate: async () => {
        terminated = true;
        await w.terminate();
      },
    };
  }
  if (typeof WebWorker?.prototype?.addEventListener !== 'function') {
    throw new Error(
      'createTrainer: this runtime has no web Worker (globalThis.Worker was missing or replaced before glocal loaded)',
    );
  }
  const w = new WebWorker(url, { type: 'module' });
  w.addEventListener('error', (e) => {
    e.preventDefault(); // reported through the pending calls, not as an uncaught error of this thread
    died(`failed to load or threw${e.message ? ` (${e.message})` : ''}`);
  });
  w.addEventListener('messageerror', () => died('a message could not be read'));
  return {
    endpoint: w,
    failed,
    terminate: async () => {
      terminated = true;
      w.terminate();
    },
  };
}
