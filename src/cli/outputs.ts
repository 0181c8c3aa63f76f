// What `glocal train` checks in its output folder before any work: the --png folder exists (an overlay that
// cannot be written used to fail only after training), temp files of a run killed mid-write are removed, and
// --resume finds last.safetensors or says in one sentence that there is nothing to resume (it was a raw ENOENT
// when a run died during its first checkpoint). No node: imports: the test suites run it in Node and Deno.

import { fileExists, folderOf, joinPath, makeDir, nodeFs, readFileBytes, removeStaleTemps } from '../io/files.ts';

/** The files train writes into --out: last (every validation, resumable), best, and the final model. */
export const TRAIN_FILES = ['last.safetensors', 'best.safetensors', 'model.safetensors'] as const;

export interface TrainResume {
  bytes: Uint8Array;
  source: string;
  best?: Uint8Array;
  bestSource: string;
}

/** An output path whose folder is missing or not a folder, found before the work that would write it. */
export async function checkOutputFolder(option: string, path: string): Promise<void> {
  const dir = folderOf(path);
  const st = await (await nodeFs()).stat(dir).catch(() => null);
  if (!st) throw new Error(`${option} ${path}: the folder ${dir} does not exist; create it, or choose another path`);
  if (!st.isDirectory()) throw new Error(`${option} ${path}: ${dir} is not a folder`);
}

/**
 * Ready `out` for a training run: create it, remove stale temp files of the files train writes, and with
 * `resume` read last.safetensors (and best.safetensors when there is one).
 */
export async function prepareTrainOutputs(o: {
  out: string;
  png?: string;
  resume?: boolean;
}): Promise<TrainResume | undefined> {
  if (o.png) await checkOutputFolder('--png', o.png);
  await makeDir(o.out);
  const removed: string[] = [];
  for (const target of [...TRAIN_FILES.map((f) => joinPath(o.out, f)), ...(o.png ? [o.png] : [])]) {
    removed.push(...(await removeStaleTemps(target)));
  }
  if (removed.length) console.log(`removed the temp files of an interrupted write: ${removed.join(', ')}`);
  if (!o.resume) return undefined;
  const last = joinPath(o.out, 'last.safetensors'),
    best = joinPath(o.out, 'best.safetensors');
  if (!(await fileExists(last))) {
    // best.safetensors is written just before last.safetensors: alone, it is a run stopped in between
    const started = removed.length > 0 || (await fileExists(best));
    const why = started
      ? 'the earlier run was stopped before its first checkpoint was complete'
      : 'no run has checkpointed there';
    throw new Error(
      `--resume: nothing to resume in ${o.out}: there is no last.safetensors (${why}); ` +
        'run without --resume to start over',
    );
  }
  return {
    bytes: await readFileBytes(last),
    source: last,
    best: await readFileBytes(best).catch(() => undefined),
    bestSource: best,
  };
}
