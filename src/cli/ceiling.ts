// glocal ceiling: the best Dice any network can score on a preset's grid (experiment/ceiling.ts).
import { CLAIM_CEILING, ceilingScores } from '../experiment/ceiling.ts';
import { meanOf } from '../train/finetune.ts';
import { type GridOverrides, describeGrid } from '../presets.ts';
import { preset } from './common.ts';
import { experimentData } from './data.ts';

/** Per class and preset, and whether the grid may carry a claim; `presets` were checked by the wiring. */
export async function ceilingCommand(
  a: GridOverrides & { data?: string; out: string; presets: string[] },
): Promise<void> {
  const rows: string[] = [];
  let classes: string[] = [];
  for (const name of a.presets) {
    const p = preset(name, a),
      data = await experimentData(a.data, a.out, name, p),
      scores = await ceilingScores(data.test, data.classes.length);
    classes = data.classes;
    const perClass = classes.slice(1).map((_, k) => meanOf(scores.map((x) => x.dice[k + 1])));
    const claim = perClass.every((d) => d >= CLAIM_CEILING) ? 'yes' : `no (a class below ${CLAIM_CEILING})`;
    rows.push(
      `| ${name} | ${describeGrid(p)} | ${perClass.map((d) => d.toFixed(3)).join(' | ')} | ${meanOf(scores.map((x) => x.meanForeground)).toFixed(3)} | ${claim} |`,
    );
  }
  const head = [
    `| preset | grid | ${classes.slice(1).join(' | ')} | mean fg | claim |`,
    `|---|---|${'---|'.repeat(classes.length + 1)}`,
  ];
  console.log(
    `\nCeiling: the test volumes' ground truth through each grid and back, 3-D Dice at native resolution\n\n${[...head, ...rows].join('\n')}`,
  );
}
