// Compiled (not run) by scripts/check-package.mjs in a consumer folder where only the packed tarball is installed:
// the published declarations type-check a consumer with skipLibCheck off.
import { createTrainer, type VolumeFile, exportOnnx, phantomVolume } from '@glocal-seg/glocal';
const t = await createTrainer({ worker: true, size: 64 });
const v: VolumeFile = { name: 'a.nii.gz', image: new Uint8Array(8) };
const r = await t.finetune([v, phantomVolume(1)], { iterations: 10, onProgress: (p) => console.log(p.loss) });
const n: number = r.iteration;
const [score] = await t.evaluate([phantomVolume(2)]);
const rv: number = score.byClass.RV.dice + score.dice[score.classes.indexOf('RV')];
void exportOnnx;
void n;
void rv;
