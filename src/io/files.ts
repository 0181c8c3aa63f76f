// File helpers for Node and Deno. `node:fs/promises` is imported at run time through a computed specifier,
// so browser bundles that include modules using these helpers still build (the helpers are just not
// called there). Outputs go to a temporary file in the same directory, flushed to disk, then renamed over
// the target: a crash never leaves a half-written file, and a reader sees the old or the new contents.

type Fs = typeof import('node:fs/promises');
const FS_MODULE = 'node:fs/promises';
export const nodeFs = (): Promise<Fs> => import(/* @vite-ignore */ FS_MODULE);

/** A write that failed: the message names the file and the reason in words (Node's ENOSPC message names neither). */
export class FileWriteError extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: could not write it (${reason}); the file was left as it was`, options);
    this.name = 'FileWriteError';
  }
}

const WRITE_REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device (ENOSPC); free some space and run again',
  EDQUOT: 'the disk quota is exhausted (EDQUOT)',
  EROFS: 'the file system is read-only (EROFS)',
  EACCES: 'permission denied (EACCES)',
  ENOENT: 'its folder does not exist (ENOENT)',
};

/** `<target>.<base-36 ms>-<random>.tmp`: the only names glocal writes before a rename, and removes when stale. */
const tempName = (path: string) => `${path}.${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}.tmp`;

export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const { open, rename, unlink } = await nodeFs();
  const tmp = tempName(path);
  let fh: Awaited<ReturnType<Fs['open']>> | undefined;
  try {
    fh = await open(tmp, 'wx');
    await fh.writeFile(bytes);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    const code = (e as { code?: string }).code;
    throw new FileWriteError(path, code, (code && WRITE_REASONS[code]) ?? (e as Error).message, { cause: e });
  }
}

const splitPath = (path: string) => {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return { dir: cut < 0 ? '.' : path.slice(0, cut) || '/', base: path.slice(cut + 1) };
};

/** The folder part of a path ('.' for a bare file name). */
export const folderOf = (path: string) => splitPath(path).dir;

/**
 * Remove the temporary files of `target` that writeFileAtomic left in a process that died mid-write (killed, out
 * of power). Only glocal's own temp names count, and only those created before this process started: a write of
 * this process still in flight keeps its file. Returns the paths removed.
 */
export async function removeStaleTemps(target: string): Promise<string[]> {
  const { readdir, unlink } = await nodeFs();
  const { dir, base } = splitPath(target);
  const escaped = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const ours = new RegExp(`^${escaped}\\.([0-9a-z]+)-[0-9a-z]{1,8}\\.tmp$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const m = ours.exec(name);
    if (!m || parseInt(m[1], 36) >= performance.timeOrigin) continue;
    const path = dir === '.' ? name : joinPath(dir, name);
    if (
      await unlink(path).then(
        () => true,
        () => false,
      )
    )
      removed.push(path);
  }
  return removed;
}

/** The names in a folder, sorted; none where it does not exist. */
export async function listNames(dir: string): Promise<string[]> {
  return (await (await nodeFs()).readdir(dir).catch(() => [] as string[])).sort();
}

export async function readFileBytes(path: string): Promise<Uint8Array> {
  const b = await (await nodeFs()).readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await (await nodeFs()).stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Remove a file; one that is not there is fine. */
export async function removeFile(path: string): Promise<void> {
  await (await nodeFs()).rm(path, { force: true });
}

export async function makeDir(path: string): Promise<void> {
  await (await nodeFs()).mkdir(path, { recursive: true });
}

export async function readText(path: string): Promise<string> {
  return (await nodeFs()).readFile(path, 'utf8');
}

/** Join path parts with '/' (Node and Deno accept it on every platform). */
export const joinPath = (...parts: string[]) => parts.join('/').replace(/\/+/g, '/');

/**
 * Run `fn` while holding `<path>.lock`, a file created exclusively ('wx'), so that processes which read, merge
 * and rewrite one file (experiment runners sharing a results folder) take turns instead of overwriting each
 * other's rows. A lock older than `staleMs` is taken to be left by a process that died holding it, and removed.
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  opts: { waitMs?: number; staleMs?: number } = {},
): Promise<T> {
  const { open, stat, unlink } = await nodeFs();
  const lock = `${path}.lock`,
    waitMs = opts.waitMs ?? 120_000,
    staleMs = opts.staleMs ?? 60_000,
    t0 = Date.now();
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(`${Date.now()}\n`);
      await fh.close();
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > staleMs) {
        await unlink(lock).catch(() => {});
        continue;
      }
      if (Date.now() - t0 > waitMs)
        throw new Error(
          `${lock}: held by another process for ${Math.round(age / 1000)} s; remove it if no runner is writing ${path}`,
        );
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => {});
  }
}
