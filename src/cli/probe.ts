// glocal probe: how well pre-trained encoders group slices by partition across volumes (G^D's positives):
// 1-NN retrieval per encoder level and for g1 (experiment/probe.ts).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { paperUNet } from '../model/unet.ts';
import { PRETRAIN_SEED, stageOptions } from '../contrastive/stages.ts';
import { partitionRetrieval, sliceEmbeddings } from '../experiment/probe.ts';
import { PAPER_PRETRAIN, pretrainModel } from '../contrastive/pretrain.ts';
import type { GlobalStrategy } from '../contrastive/batches.ts';
import { loadParams } from '../train/checkpoint.ts';
import { readFileBytes } from '../io/files.ts';
import type { Backend } from '../ops/backend.ts';
import type { GridOverrides, Preset } from '../presets.ts';
import { preset, runtime } from './common.ts';
import { experimentData } from './data.ts';

export const PROBE_STAGES = ['init', 'GR', 'GD-', 'GD'];
export const isStageFile = (st: string) => st.endsWith('.safetensors');

interface ProbeArgs extends GridOverrides {
  data?: string;
  out: string;
  preset: string;
  /** init, GR, GD-, GD or .safetensors files (checked by the wiring) */
  stages: string[];
}

/** The network of one --stages entry: the pre-training's start, a finished global stage, or a file's encoder. */
async function stageModel<T>(be: Backend<T>, a: ProbeArgs, p: Preset, st: string, classes: number) {
  const cfg = paperUNet(classes, p.width);
  const model = pretrainModel(
    be,
    cfg,
    p.size,
    stageOptions(st === 'init' || isStageFile(st) ? 'GR' : (st as GlobalStrategy), p),
    PRETRAIN_SEED,
  );
  if (isStageFile(st)) {
    // any checkpoint of this network (a fine-tuned one from experiment --keep-models): its encoder
    loadParams(model.params, await readFileBytes(resolve(st)), st, {
      weightsOnly: true,
      skip: (n) => !n.startsWith('enc'),
    });
  } else if (st !== 'init') {
    const file = join(a.out, 'pretrain', a.preset, `${st}.safetensors`);
    if (!existsSync(file))
      throw new Error(`${file}: no finished ${st} stage in this folder (glocal experiment --methods ${st} trains it)`);
    loadParams(model.params, await readFileBytes(file), file, { weightsOnly: true });
  }
  return model;
}

/** The partition probe of an experiment folder's global stages, and of their common init. */
export async function probe(a: ProbeArgs): Promise<void> {
  const p = preset(a.preset, a);
  const { unlabeled, classes } = await experimentData(a.data, a.out, a.preset, p);
  const vols = unlabeled.map((v) => ({ slices: v.slices, nz: v.nz, name: v.original.source }));
  const partitions = PAPER_PRETRAIN.GD.partitions,
    depth = paperUNet(classes.length, p.width).encoder.length;
  const { ob, be } = await runtime();
  const levelNames = Array.from({ length: depth }, (_, l) => `level ${l + 1} (${p.size >> l}²)`);
  const lines = [
    `| stage | ${levelNames.join(' | ')} | bottleneck margin | g1 | g1 margin |`,
    `|---|${'---|'.repeat(depth + 3)}`,
  ];
  let chance = 0;
  try {
    for (const st of a.stages) {
      const model = await stageModel(be, a, p, st, classes.length);
      const e = await sliceEmbeddings(model, vols, p.size, partitions);
      const levels = e.levels.map((f) => partitionRetrieval(f, e.volume, e.partition)),
        head = partitionRetrieval(e.head, e.volume, e.partition);
      chance = head.chance;
      const headCells = isStageFile(st) ? '— | —' : `${head.accuracy.toFixed(3)} | ${head.margin.toFixed(3)}`; // g1 is not in a fine-tuned network
      lines.push(
        `| ${st} | ${levels.map((r) => r.accuracy.toFixed(3)).join(' | ')} | ${levels[depth - 1].margin.toFixed(3)} | ${headCells} |`,
      );
      console.log(lines[lines.length - 1]);
    }
  } finally {
    ob.close();
  }
  console.log(
    `\n1-NN partition retrieval: for each slice, is the most cosine-similar slice of another volume in the same partition? ` +
      `Per encoder level (flattened features), and for g1's output. ${vols.length} pre-training volumes, ${partitions} partitions; ` +
      `a slice of another volume picked at random is in the same partition with probability ${chance.toFixed(3)}. ` +
      `Margin: mean cosine of same-partition pairs minus other pairs. init: the pre-training's start (seed ${PRETRAIN_SEED}).\n\n${lines.join('\n')}`,
  );
}
