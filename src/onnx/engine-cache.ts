// The remembered choice of `segment --engine auto` (~/.cache/glocal/engines.json): a measurement per adapter,
// network and input size. It is a cache: a file that does not parse, or holds entries of another shape, is
// rebuilt (and the user told so), never a reason for segment to fail from then on.

import { nodeFs } from '../io/files.ts';

export type Engine = 'webgpu' | 'ort-wasm';
export interface EngineChoice {
  engine: Engine;
  slices: number;
  ms: Record<Engine, number>;
}

const isChoice = (c: any): c is EngineChoice =>
  (c?.engine === 'webgpu' || c?.engine === 'ort-wasm') &&
  Number.isFinite(c.slices) &&
  Number.isFinite(c.ms?.webgpu) &&
  Number.isFinite(c.ms?.['ort-wasm']);

/** The cached choices at `path` ({} when there is none); a corrupt file yields {} and a warning naming it. */
export async function readEngineCache(
  path: string,
  warn: (message: string) => void,
): Promise<Record<string, EngineChoice>> {
  let text: string;
  try {
    text = await (await nodeFs()).readFile(path, 'utf8');
  } catch {
    return {}; // none yet
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && Object.values(parsed).every(isChoice))
      return parsed;
    warn(`${path}: not a table of engine measurements; measuring again and rewriting it`);
  } catch (e) {
    warn(`${path}: not valid JSON (${(e as Error).message}); measuring again and rewriting it`);
  }
  return {};
}
