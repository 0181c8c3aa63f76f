// The one iteration loop of every training stage (fine-tuning, contrastive and pretext pre-training): the finite-loss
// check, progress, cancellation, periodic checkpoints and resume behave the same in each because they live here.

import type { ParamSet } from '../model/params.ts';
import type { Rng } from '../util/random.ts';
import { DivergedError, loadParams } from './checkpoint.ts';
import { yieldToEvents } from '../util/yield.ts';

/** Periodic checkpoints: `save` receives the bytes every `every` iterations; `resume` continues from one. */
export interface CheckpointHooks {
  every: number;
  save(bytes: Uint8Array, iteration: number): Promise<void>;
  /** called with the best weights so far whenever validation improves (fine-tuning only) */
  saveBest?(bytes: Uint8Array): Promise<void>;
  /**
   * A checkpoint from `save`, and `best`: the last bytes given to `saveBest`, from `bestSource`. Where a bestSource
   * is named, a checkpoint that records a best score needs them (fine-tuning would otherwise end on its last
   * weights, called best).
   */
  resume?: { bytes: Uint8Array; source: string; best?: Uint8Array; bestSource?: string };
  /** asked after every iteration: true saves a checkpoint of that iteration (through `save`) and ends the loop */
  stop?: () => boolean;
  /** the same as `stop`, for callers that hold an AbortController */
  signal?: AbortSignal;
}

export interface IterateOptions {
  /** the first iteration to run: 1, or one past a resumed checkpoint's */
  start: number;
  /** the last iteration (inclusive) */
  iterations: number;
  /** names the loss in a DivergedError: `the ${lossName} is NaN` */
  lossName: string;
  /** every `every` iterations, at the last, and when stopped: `snapshot` the state and hand it to `save` */
  checkpoint?: Pick<CheckpointHooks, 'every' | 'save'> & { snapshot(iteration: number): Promise<Uint8Array> };
  /**
   * after each finite step; `lastGood` is the last iteration checkpointed (for a DivergedError of its own). Unless
   * the iteration is a checkpoint's or `syncAt`'s, a Started step's successor is already recorded by then.
   */
  onProgress?: (iteration: number, loss: number, lastGood: number | null) => void | Promise<void>;
  /** iterations whose onProgress needs the weights after that step (validation): the next is not started before */
  syncAt?: (iteration: number) => boolean;
  stop?: () => boolean;
  signal?: AbortSignal;
}

/** A step recorded and submitted whose loss is still being read: iterate starts the next step before waiting for it. */
export interface Started {
  loss: Promise<number>;
}

/** `step(it)`, `ahead` when it was Started; a rejection waits for whoever awaits it (none after a DivergedError). */
function begin(step: (it: number) => Promise<number | Started>, it: number): Promise<Started & { ahead: boolean }> {
  const s = step(it).then((r) =>
    typeof r === 'number' ? { loss: Promise.resolve(r), ahead: false } : { loss: r.loss, ahead: true },
  );
  s.then((r) => r.loss).catch(() => undefined);
  return s;
}

/**
 * Run `step(iteration)` (it returns the iteration's loss, or a Started step) from `start` to `iterations`. A
 * Started step's successor is recorded before its loss is awaited, so the GPU never idles for a readback's map
 * (Deno polls maps every ~10 ms), unless the host needs that step's weights: a checkpoint, `syncAt`, the last
 * iteration or a stop. Losses and weights are the same bits; the finite check runs as each loss arrives, still
 * before any checkpoint of a later step. A non-finite loss is a DivergedError naming the last good checkpoint.
 * `stop` is asked once per iteration, while its step runs: true ends the loop after that step, with a checkpoint
 * of it. A resumed loop (start > 1) counts its checkpoint as the last good one.
 */
export async function iterate(
  step: (iteration: number) => Promise<number | Started>,
  o: IterateOptions,
): Promise<{ losses: number[]; stopped: boolean }> {
  const losses: number[] = [],
    ck = o.checkpoint,
    stoppable = o.stop !== undefined || o.signal !== undefined;
  const hostNeeds = (it: number) =>
    it === o.iterations || (ck !== undefined && it % ck.every === 0) || (o.syncAt?.(it) ?? false);
  let stopped = false,
    lastGood: number | null = o.start > 1 ? o.start - 1 : null,
    next: ReturnType<typeof begin> | null = null;
  for (let it = o.start; it <= o.iterations; it++) {
    const current = await (next ?? begin(step, it)),
      overlapped = current.ahead && !hostNeeds(it);
    next = null;
    if (stoppable) await yieldToEvents(); // a stop request (a message to a worker) can arrive now
    stopped = (o.stop?.() ?? false) || (o.signal?.aborted ?? false);
    if (overlapped && !stopped) next = begin(step, it + 1);
    const loss = await current.loss;
    if (!Number.isFinite(loss)) throw new DivergedError(it, `the ${o.lossName} is ${loss}`, lastGood);
    losses.push(loss);
    await o.onProgress?.(it, loss, lastGood);
    if (ck && (stopped || it % ck.every === 0 || it === o.iterations)) {
      await ck.save(await guard(ck.snapshot(it), lastGood), it);
      lastGood = it;
    }
    if (stopped) break;
  }
  return { losses, stopped };
}

/** A checkpoint's bytes, or the DivergedError that names the last good checkpoint when the weights went NaN/Inf. */
export async function guard(bytes: Promise<Uint8Array>, lastGood: number | null): Promise<Uint8Array> {
  try {
    return await bytes;
  } catch (e) {
    if (e instanceof DivergedError) throw new DivergedError(e.iteration, e.what, lastGood);
    throw e;
  }
}

/**
 * Continue a loop from its checkpoint: weights, Adam and moving averages into `params`, the RNG's state into
 * `rng`. Returns the next iteration and the loop's saved state; refuses a checkpoint of another stage.
 */
export function resumeLoop<T, S extends { rng: Rng['state'] }>(
  params: ParamSet<T>,
  resume: NonNullable<CheckpointHooks['resume']>,
  stage: string,
  rng: Rng,
  what = stage,
): { start: number; state: S } {
  const meta = loadParams(params, resume.bytes, resume.source);
  const st = meta.state as S | null;
  if (meta.stage !== stage || !st?.rng) throw new Error(`${resume.source}: not a resumable ${what} checkpoint`);
  rng.state = st.rng;
  return { start: meta.iteration + 1, state: st };
}

/** The stop hooks of a CheckpointHooks, for iterate. */
export const stopOf = (ck?: CheckpointHooks): Pick<IterateOptions, 'stop' | 'signal'> => ({
  stop: ck?.stop,
  signal: ck?.signal,
});
