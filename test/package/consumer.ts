// Compiled (not run) by scripts/check-package.mjs against dist/types: the published declarations type-check a consumer.
import { createTrainer, type VolumeFile, exportOnnx } from 'glocal';
const t = await createTrainer({ worker: true, size: 64 });
const v: VolumeFile = { name: 'a.nii.gz', image: new Uint8Array(8) };
const r = await t.finetune([v], { iterations: 10, onProgress: (p) => console.log(p.loss) });
const n: number = r.iteration;
void exportOnnx; void n;
