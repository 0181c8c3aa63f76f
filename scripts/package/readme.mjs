// README's library example runs as written (issue 28 item 8: it stopped at `ReferenceError: unlabeled is not
// defined`). Every ```ts block that README marks with RUNS_MARK is taken verbatim, its types stripped by esbuild, and
// run by Node in the consumer folder where only the packed tarball is installed.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { transform } from 'esbuild';

export const RUNS_MARK = '<!-- npm test runs this block (scripts/check-package.mjs) -->';

/** The marked blocks of `markdown`, in order. */
export function markedBlocks(markdown) {
  const blocks = [];
  const fence = /```ts\n([\s\S]*?)```/g;
  for (let at = markdown.indexOf(RUNS_MARK); at >= 0; at = markdown.indexOf(RUNS_MARK, at + 1)) {
    fence.lastIndex = at;
    const m = fence.exec(markdown);
    // the mark belongs to the fence right below it, not to one further down
    if (!m || markdown.slice(at + RUNS_MARK.length, m.index).trim() !== '') {
      throw new Error(`README: a mark at ${at} without a \`\`\`ts block below it`);
    }
    blocks.push(m[1]);
  }
  return blocks;
}

export async function runReadmeExamples(project, name) {
  const blocks = markedBlocks(readFileSync('README.md', 'utf8'));
  // the library example must be among them: a test that ran nothing would pass
  if (!blocks.some((b) => b.includes('createTrainer(') && b.includes(`from '${name}'`))) {
    throw new Error(`README: no marked block imports createTrainer from '${name}'`);
  }
  for (const [i, block] of blocks.entries()) {
    const { code } = await transform(block, { loader: 'ts', format: 'esm', target: 'es2022' });
    const file = `readme-${i + 1}.mjs`;
    writeFileSync(join(project, file), code);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8', timeout: 240_000 });
    if (r.status !== 0) {
      console.log(`${r.stdout}\n${r.stderr}`);
      throw new Error(`README block ${i + 1} (marked) failed as written: ${r.stderr.trim().split('\n').pop()}`);
    }
    console.log(`readme: block ${i + 1} ran as written in ${((Date.now() - t0) / 1000).toFixed(1)} s; its last line: ` +
      r.stdout.trim().split('\n').pop());
  }
}
