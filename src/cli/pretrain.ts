// glocal pretrain: contrastive pre-training on the volumes outside val/test, stage 1 global, optionally stage 2
// local, through the one stage driver (runStages); the CLI adds only its progress bar and printed lines.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { paperUNet } from '../model/unet.ts';
import { parseMethod } from '../experiment/experiment.ts';
import { type PretrainOptions, isLocal } from '../contrastive/pretrain.ts';
import { type StageSpec, fileStageStore, runStages, stageOptions } from '../contrastive/stages.ts';
import type { GlobalStrategy, LocalStrategy } from '../contrastive/batches.ts';
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
  const stage = (name: string, strategy: GlobalStrategy | LocalStrategy): StageSpec => ({
    name,
    pretrain: {
      ...stageOptions(strategy, p),
      iterations: a.iterations ?? p.pretrainIterations,
      regions: a.regions,
      crossPartition: m.crossPartition,
    },
  });
  const files = fileStageStore(a.out, { skipFinished: false, resume: a.resume === true, lossesCsv: true });
  let b: ReturnType<typeof bar> | null = null;
  const stopBar = () => {
    b?.stop();
    b = null;
  };
  try {
    await runStages({
      be,
      cfg: paperUNet(classes.length, p.width),
      size: p.size,
      vols: vols.map((v) => ({ slices: v.slices, nz: v.nz, name: v.original.source })),
      stages: [stage('global', m.global!), ...(m.local ? [stage('local', m.local)] : [])],
      every: 50,
      store: {
        ...files,
        async finish(name, bytes, curve) {
          stopBar();
          await files.finish(name, bytes, curve); // <name>.safetensors and <name>.losses.csv
          console.log(`checkpoint: ${join(a.out, `${name}.safetensors`)}`);
        },
      },
      onStage: (st, resume) => {
        if (!('pretrain' in st)) return;
        const o = st.pretrain;
        // decoder block l works at 1/2^(5-l) of the grid: L^D's regions live on that map
        const maps = isLocal(o.strategy) ? `, decoder block ${o.block}'s ${p.size >> (5 - o.block)}² maps` : '';
        console.log(
          `stage ${st.name} (${o.strategy}): ${o.iterations} iterations on ${vols.length} volumes, ${describeGrid(p)}${maps}${resume ? `, resuming from ${resume.source}` : ''}`,
        );
        b = bar(o.iterations, o.strategy);
      },
      onProgress: (_st, it, loss) => b?.update(it, { status: `loss ${loss.toFixed(4)}` }),
    });
  } finally {
    stopBar();
  }
  ob.close();
}
