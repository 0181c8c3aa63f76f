// glocal quickstart (npm start): phantom data, training on 2 labeled volumes, Dice on held-out volumes, a PNG.
import { join } from 'node:path';
import { writePhantom } from './phantom.ts';
import { train } from './train.ts';

export async function quickstart(dir: string, preset: string): Promise<void> {
  await writePhantom(join(dir, 'data'), 12, 1);
  const { meanDice: mean } = await train({
    data: join(dir, 'data'),
    preset,
    labeled: 2,
    seed: 1,
    out: dir,
    png: join(dir, 'overlay.png'),
  });
  console.log(
    `\nmean foreground Dice on held-out phantom volumes, random init + 2 labeled volumes: ${mean.toFixed(3)}`,
  );
}
