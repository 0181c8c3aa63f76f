// glocal pretrain: contrastive pre-training on the volumes outside val/test, stage 1 global, optionally stage 2
// local. The stage loop below is the CLI's own copy; one pre-training stage driver (issue 26 item 2) replaces it.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { paperUNet } from '../model/unet.ts';
import { parseMethod, stageOptions } from '../experiment/experiment.ts';
import { type PretrainOptions, isLocal, loadPretrained, pretrain, pretrainModel } from '../contrastive/pretrain.ts';
import type { GlobalStrategy, LocalStrategy } from '../contrastive/batches.ts';
import { readFileBytes, writeFileAtomic } from '../io/files.ts';
import { type GridOverrides, describeGrid } from '../presets.ts';
import { bar, preset, runtime } from './common.ts';
import { loadSplits } from './data.ts';

export interface PretrainArgs extends GridOverrides {
  data: string;
  /** GR, GD- or GD (checked by the wiring) */
  strategy: string;
  /** LR, LD or LDx (checked by the wiring) */
  local?: string;
  regions: PretrainOptions['regions'];
  preset: string;
  out: string;
  iterations?: number;
  resume?: boolean;
}

export async function pretrainCommand(a: PretrainArgs): Promise<void> {
  const p = preset(a.preset, a);
  const m = parseMethod(a.local ? `${a.strategy}+${a.local}` : a.strategy);
  // every volume that is not held out for validation or testing, labeled or not (labels are not used)
  const { unlabeled: vols, classes } = await loadSplits(a.data, a.preset, p, { unlabeled: true });
  if (!vols.length) throw new Error(`${a.data}: no volumes outside the val and test splits to pre-train on`);
  const { ob, be } = await runtime();
  await mkdir(a.out, { recursive: true });
  const cfg = paperUNet(classes.length, p.width);
  let init: Uint8Array | null = null;
  for (const [strategy, file] of [[m.global, 'global'], ...(m.local ? [[m.local, 'local']] : [])] as [
    GlobalStrategy | LocalStrategy,
    string,
  ][]) {
    const opts: PretrainOptions = {
      ...stageOptions(strategy, p),
      iterations: a.iterations ?? p.pretrainIterations,
      regions: a.regions,
      crossPartition: m.crossPartition,
    };
    const model = pretrainModel(be, cfg, p.size, opts, 1);
    if (init) loadPretrained(model, init, 'stage 1', 'global', opts.block);
    const last = join(a.out, `${file}.last.safetensors`),
      done = join(a.out, `${file}.safetensors`);
    const resume = a.resume && existsSync(last) ? { bytes: await readFileBytes(last), source: last } : undefined;
    // decoder block l works at 1/2^(5-l) of the grid: L^D's regions live on that map
    const maps = isLocal(strategy) ? `, decoder block ${opts.block}'s ${p.size >> (5 - opts.block)}² maps` : '';
    console.log(
      `stage ${file} (${strategy}): ${opts.iterations} iterations on ${vols.length} volumes, ${describeGrid(p)}${maps}${resume ? `, resuming from ${last}` : ''}`,
    );
    const b = bar(opts.iterations, strategy),
      losses = ['iteration,loss'];
    try {
      await pretrain(
        model,
        vols.map((v) => ({ slices: v.slices, nz: v.nz, name: v.original.source })),
        p.size,
        opts,
        (it, loss) => {
          b.update(it, { status: `loss ${loss.toFixed(4)}` });
          losses.push(`${it},${loss}`);
        },
        { every: 50, resume, save: (bytes) => writeFileAtomic(last, bytes) },
      );
    } finally {
      b.stop();
    }
    init = await readFileBytes(last);
    await writeFileAtomic(done, init);
    // the loss of every iteration this call ran (a resumed stage: from where it resumed), to see a loss collapse
    await writeFileAtomic(join(a.out, `${file}.losses.csv`), `${losses.join('\n')}\n`);
    console.log(`checkpoint: ${done}`);
  }
  ob.close();
}
