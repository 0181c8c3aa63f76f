// glocal convergence: validation curves of the all-labels benchmark and of random init on few volumes, and the
// fine-tuning budget the plateau rule picks (experiment/convergence.ts).
import { join } from 'node:path';
import { PLATEAU_DELTA, RUN_OVER_BUDGET, chooseBudget, convergenceCurves } from '../experiment/convergence.ts';
import { type GridOverrides, describeGrid } from '../presets.ts';
import { preset, runtime } from './common.ts';
import { experimentData } from './data.ts';

export async function convergenceCommand(
  a: GridOverrides & {
    data?: string;
    out: string;
    preset: string;
    iterations: number;
    labeled: number;
    resume?: boolean;
  },
): Promise<void> {
  const p = preset(a.preset, a);
  const { train, val, classes } = await experimentData(a.data, a.out, a.preset, p);
  const { ob, be } = await runtime();
  console.log(
    `convergence (${a.preset}, ${describeGrid(p)}, batch ${p.batch}, validation every ${p.valEvery}): the benchmark and random init on ${a.labeled} labeled, ${a.iterations} iterations each`,
  );
  try {
    const { budget: b, curves } = await convergenceCurves(
      { be, out: a.out, preset: a.preset, definition: p, classes, train, val, log: (l) => console.log(l) },
      a.iterations,
      a.labeled,
      a.resume === true,
    );
    const raw = chooseBudget(curves, a.iterations, 1);
    console.log(
      `as first written (best-so-far of the raw curve): plateaus ${raw.plateaus.join(' and ')}, budget ${raw.budget}, ${raw.holds ? 'holds' : 'does not hold'}`,
    );
    console.log(
      `plateaus (first validation whose mean over the last ${b.window} is within ${PLATEAU_DELTA} of that mean's highest): ${b.plateaus.join(' and ')}; budget ${b.budget}; ` +
        (b.holds
          ? `holds (the run went on to ${b.ran} ≥ ${RUN_OVER_BUDGET}× the budget)`
          : `does not hold: the run (${b.ran}) is shorter than ${RUN_OVER_BUDGET}× the budget, run longer`),
    );
    console.log(`curves: ${join(a.out, `convergence-${a.preset}.csv`)}, ${join(a.out, `convergence-${a.preset}.svg`)}`);
  } finally {
    ob.close();
  }
}
