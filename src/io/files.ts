// File helpers for Node and Deno. `node:fs/promises` is imported at run time through a computed specifier,
// so browser bundles that include modules using these helpers still build (the helpers are just not
// called there). Outputs go to a temporary file in the same directory, flushed to disk, then renamed over
// the target: a crash never leaves a half-written file, and a reader sees the old or the new contents.

type Fs = typeof import('node:fs/promises');
const FS_MODULE = 'node:fs/promises';
export const nodeFs = (): Promise<Fs> => import(/* @vite-ignore */ FS_MODULE);

export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const { open, rename, unlink } = await nodeFs();
  const tmp = `${path}.${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}.tmp`;
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
    throw e;
  }
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

export async function makeDir(path: string): Promise<void> {
  await (await nodeFs()).mkdir(path, { recursive: true });
}

export async function readText(path: string): Promise<string> {
  return (await nodeFs()).readFile(path, 'utf8');
}

/** Join path parts with '/' (Node and Deno accept it on every platform). */
export const joinPath = (...parts: string[]) => parts.join('/').replace(/\/+/g, '/');
