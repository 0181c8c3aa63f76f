// The worker API (issue 5): createTrainer({ worker: true }) runs pre-training, fine-tuning (cancelled and
// resumed), segmentation, evaluation and ONNX export in a worker of this runtime (a browser or Deno module
// Worker, Node worker_threads); progress arrives through callbacks and the volumes' buffers are transferred.

import { type TestCase, assert } from '../harness.ts';
import { createTrainer } from '../../src/api/trainer.ts';
import { TrainerError } from '../../src/api/errors.ts';
import { cropWarning, type VolumeFile } from '../../src/api/session.ts';
import type { PreparedVolume } from '../../src/data/pipeline.ts';
import { generateSubject } from '../../src/data/phantom.ts';
import { NiftiError, readNifti, writeNifti } from '../../src/io/nifti.ts';
import { onnxModelInfo } from '../../src/onnx/onnx.ts';
import { splitBest } from '../../src/train/checkpoint.ts';
import {
  segmentCornerstoneVolume,
  volumeFromCornerstone,
  type CornerstoneVolumeLike,
} from '../../src/viewers/adapters.ts';
import type { Volume } from '../../src/volume/volume.ts';

/** A volume as Cornerstone3D holds it: LPS origin and direction cosines (row, column, scan axis), voxels i fastest. */
function asCornerstone(v: Volume): CornerstoneVolumeLike {
  const a = v.affine,
    flip = [-1, -1, 1];
  return {
    dimensions: v.dims,
    spacing: v.spacing,
    origin: [0, 1, 2].map((r) => flip[r] * a[4 * r + 3]),
    direction: [0, 1, 2].flatMap((c) => [0, 1, 2].map((r) => (flip[r] * a[4 * r + c]) / v.spacing[c])),
    voxelManager: { getCompleteScalarDataArray: () => v.data },
  };
}

/** Phantom subject i as NIfTI bytes (fresh buffers each call: the trainer takes them over). */
function volume(i: number, labeled: boolean): VolumeFile {
  const s = generateSubject(3, i);
  return {
    name: `phantom_${i}.nii.gz`,
    image: writeNifti(s.image, { datatype: 'float32', gzip: true }),
    label: labeled ? writeNifti(s.label, { datatype: 'uint8', gzip: true }) : undefined,
  };
}

/**
 * What `promise` rejects with, failing the case when it resolves or does not settle within `ms` (a hang must fail
 * the suite, not stall it).
 */
async function rejection(what: string, promise: Promise<unknown>, ms = 30_000): Promise<Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), ms);
  });
  const got = await Promise.race([
    promise.then(
      () => 'resolved' as const,
      (e: Error) => e,
    ),
    late,
  ]);
  clearTimeout(timer);
  assert(
    got instanceof Error,
    `${what}: expected an error, but the call ${got === 'late' ? `did not settle within ${ms} ms` : 'resolved'}`,
  );
  return got;
}

/** A second call with bytes the first transferred, and a bad file: typed errors that keep their class and fields. */
async function workerErrors(trainer: Awaited<ReturnType<typeof createTrainer>>, image: Uint8Array): Promise<void> {
  const once: VolumeFile = { name: 'again.nii.gz', image };
  await trainer.segment(once);
  const again = await rejection('a second segment() of transferred bytes', trainer.segment(once));
  assert(
    again instanceof TrainerError &&
      again.code === 'detached-input' &&
      again.message.includes('again.nii.gz (image): no bytes'),
    `a second segment() of transferred bytes: ${String(again)}`,
  );
  const bad = await rejection(
    'segment() of a non-NIfTI file',
    trainer.segment({ name: 'notes.nii', image: new Uint8Array(400).fill(7) }),
  );
  assert(
    bad instanceof NiftiError &&
      bad.code === 'bad-magic' &&
      bad.source === 'notes.nii' &&
      bad.message.startsWith('notes.nii: '),
    `an error from the worker keeps its class and fields: ${bad.constructor.name} ${JSON.stringify(bad)} ${bad.message}`,
  );
}

const workerLoadCase: TestCase = {
  name: 'worker API: a worker script that cannot load rejects createTrainer with a TrainerError, instead of hanging',
  async run() {
    const url = new URL('./no-such-worker.js', import.meta.url);
    const e = await rejection(
      'createTrainer with a missing worker script',
      createTrainer({ worker: true, workerUrl: url }),
    );
    assert(
      e instanceof TrainerError && e.code === 'worker-failed' && e.message.includes('no-such-worker.js'),
      `${e.constructor.name}: ${e.message}`,
    );
  },
};

const workerTrainerCase: TestCase = {
  name: 'worker API: pretrain, finetune cancelled within one step and resumed, segment (also through the Cornerstone3D adapter), evaluate, exportOnnx in a worker',
  async run() {
    const trainer = await createTrainer({
      worker: true,
      size: 32,
      targetSpacing: 8,
      width: 0.05,
      classes: ['background', 'RV', 'myocardium', 'LV'],
    });
    try {
      assert(/\S/.test(await trainer.adapter()), 'the worker reports no adapter');
      const steps: number[] = [];
      const pre = await trainer.pretrain([volume(0, false), volume(1, false)], {
        strategy: 'GR',
        iterations: 3,
        onProgress: (p) => steps.push(p.iteration),
      });
      assert(!pre.stopped && pre.checkpoint.length > 1000, 'pre-training gave no checkpoint');
      // progress callbacks are proxied asynchronously: the last ones may still be on their way
      for (let i = 0; i < 50 && steps.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      assert(steps.join() === '1,2,3', `pre-training progress: ${steps}`);

      // fine-tuning, cancelled from the progress callback once iteration 2 is reported
      const labeled = [volume(2, true)];
      let asked: Promise<number> | null = null;
      const saved: number[] = [];
      const first = await trainer.finetune(labeled, {
        iterations: 200,
        batch: 2,
        valEvery: 1000,
        checkpointEvery: 1,
        onProgress: (p) => {
          if (p.iteration >= 2 && !asked) asked = trainer.cancel();
        },
        onCheckpoint: (bytes, it) => {
          if (bytes.length > 1000) saved.push(it);
        },
      });
      assert(asked !== null, 'no progress arrived');
      const finishedWhenAsked = await asked!;
      assert(first.stopped, 'the cancelled fine-tuning did not report stopped');
      assert(
        first.iteration <= finishedWhenAsked + 1,
        `cancel arrived after iteration ${finishedWhenAsked}, the run stopped after ${first.iteration}`,
      );
      for (let i = 0; i < 50 && saved.length < first.iteration; i++) await new Promise((r) => setTimeout(r, 20));
      assert(
        saved.join() === Array.from({ length: first.iteration }, (_, i) => i + 1).join(),
        `periodic checkpoints after iterations ${saved}`,
      );
      const input = volume(2, true);
      const resumed = await trainer.finetune([input], {
        iterations: first.iteration + 2,
        batch: 2,
        valEvery: 1000,
        resume: first.checkpoint,
      });
      assert(
        !resumed.stopped && resumed.iteration === first.iteration + 2,
        `the resumed run ended at ${resumed.iteration}, not ${first.iteration + 2}`,
      );
      assert(input.image.byteLength === 0, 'the volume bytes were copied to the worker, not transferred');

      // a cancel sent right behind the call, while its volumes are still being read, stops it after its first step
      const early = trainer.finetune([volume(2, true)], { iterations: 20, batch: 2, valEvery: 1000 });
      await trainer.cancel();
      const stoppedEarly = await early;
      assert(
        stoppedEarly.stopped && stoppedEarly.iteration === 1 && stoppedEarly.checkpoint.length > 1000,
        `a cancel before the first step: stopped ${stoppedEarly.stopped} after iteration ${stoppedEarly.iteration}`,
      );

      const target = volume(4, true),
        dims = readNifti(target.image, 'input').dims;
      const seg = await trainer.segment({ name: target.name, image: target.image.slice() });
      const labels = readNifti(seg.labels, 'segment output');
      assert(labels.dims.join() === dims.join(), `label map ${labels.dims} on a ${dims} volume`);
      // the Cornerstone3D adapter: the same volume given as LPS geometry gets the same labels
      const original = readNifti(target.image, 'input'),
        cs = asCornerstone(original);
      const back = volumeFromCornerstone(cs);
      assert(
        back.affine.every((x, i) => Math.abs(x - original.affine[i]) < 1e-4),
        `LPS → RAS affine ${back.affine} vs ${original.affine}`,
      );
      const viaCornerstone = await segmentCornerstoneVolume(trainer, cs, ['background', 'RV', 'myocardium', 'LV']);
      assert(
        viaCornerstone.scalarData.length === labels.data.length &&
          viaCornerstone.scalarData.every((x, i) => x === labels.data[i]),
        'the Cornerstone adapter labels differ from segmenting the NIfTI file',
      );
      assert(
        viaCornerstone.segments.map((x) => `${x.segmentIndex}:${x.label}`).join() === '1:RV,2:myocardium,3:LV',
        'segment table',
      );
      const scores = await trainer.evaluate([target]);
      assert(
        scores.length === 1 && scores[0].dice.length === 4 && scores[0].dice.every((d) => d >= 0 && d <= 1),
        `scores ${JSON.stringify(scores)}`,
      );
      // the numbers come with their class names (issue 28 item 8), aligned and keyed by name
      const [score] = scores;
      const names = JSON.stringify(score.classes);
      assert(score.classes?.join() === 'background,RV,myocardium,LV', `evaluate's class names: ${names}`);
      const named = (c: string, k: number) =>
        score.byClass[c].dice === score.dice[k] && Object.is(score.byClass[c].hd95, score.hd95[k]);
      assert(score.classes.every(named), `evaluate's byClass does not match dice/hd95: ${JSON.stringify(score)}`);
      await workerErrors(trainer, volume(4, false).image);
      const onnx = await trainer.exportOnnx();
      assert(
        onnxModelInfo(onnx, 'worker export').config.numClasses === 4,
        'the exported ONNX does not describe the model',
      );
    } finally {
      await trainer.dispose();
    }
  },
};

/**
 * A Session's fine-tuning stopped after its best validation and resumed from the one checkpoint it handed back ends
 * on the same weights as an uninterrupted run: the best weights travel inside the resume checkpoint (withBest).
 * Before, the resumed run ended on its last weights under the recorded best score.
 */
const resumeKeepsBestCase: TestCase = {
  name: 'Session: fine-tuning stopped after its best validation and resumed ends on the best weights, bit for bit as uninterrupted; a checkpoint without them is refused',
  async run() {
    // wasm: the same bits in every runtime, so the validation curve below has the same shape everywhere
    const trainer = await createTrainer({ worker: false, backend: 'wasm', size: 32, targetSpacing: 8, width: 0.1 });
    const N = 10,
      request = () => ({ validation: [volume(3, true)], iterations: N, batch: 2, valEvery: 1 });
    try {
      const dice: number[] = [];
      const whole = await trainer.finetune([volume(2, true)], {
        ...request(),
        onProgress: (p) => dice.push(p.valDice!),
      });
      const bestAt = dice.indexOf(Math.max(...dice)) + 1;
      // the case only tells the two apart when the best is not the last validation, and the cancel lands an
      // iteration after the progress report that asks for it (here the best is at 7 of 10)
      assert(bestAt < N - 1, `the uninterrupted run's best is at ${bestAt} of ${N} (${dice}): the case shows nothing`);
      let asked = false;
      const first = await trainer.finetune([volume(2, true)], {
        ...request(),
        onProgress: (p) => {
          if (p.iteration >= bestAt && !asked) {
            asked = true;
            void trainer.cancel();
          }
        },
      });
      assert(first.stopped && first.iteration < N, `stopped: ${first.stopped} after iteration ${first.iteration}`);
      const resumed = await trainer.finetune([volume(2, true)], { ...request(), resume: first.checkpoint });
      assert(
        !resumed.stopped && resumed.bestValDice === whole.bestValDice,
        `best ${resumed.bestValDice} vs ${whole.bestValDice}`,
      );
      const same =
        resumed.checkpoint.length === whole.checkpoint.length &&
        resumed.checkpoint.every((b, i) => b === whole.checkpoint[i]);
      assert(same, `stopped after ${first.iteration} (best at ${bestAt}) and resumed: not the uninterrupted weights`);
      const withoutBest = splitBest(first.checkpoint, 'test').resume;
      const e = await rejection(
        'a resume checkpoint without its best weights',
        trainer.finetune([volume(2, true)], { ...request(), resume: withoutBest }),
      );
      assert(/best validation at iteration \d+.*fine-tune again/.test(e.message), e.message);
    } finally {
      await trainer.dispose();
    }
  },
};

const cropWarningCase: TestCase = {
  name: 'segment: a crop warning when predicted foreground touches a cropped edge of the network input, none otherwise',
  async run() {
    const S = 8,
      K = 2;
    const vol = (canvas: [number, number]) =>
      ({ name: 'v.nii.gz', nz: 1, geometry: { canvas, network: [S, S] } }) as unknown as PreparedVolume;
    const probs = (fg: [number, number][]) => {
      const p = new Float32Array(S * S * K);
      for (let q = 0; q < S * S; q++) {
        p[q * K] = 0.9;
        p[q * K + 1] = 0.1;
      }
      for (const [x, y] of fg) {
        p[(y * S + x) * K] = 0.2;
        p[(y * S + x) * K + 1] = 0.8;
      }
      return p;
    };
    const atEdge = cropWarning(
      vol([12, 8]),
      probs([
        [0, 3],
        [4, 4],
      ]),
      K,
    );
    assert(atEdge !== null && /v\.nii\.gz: 1 foreground pixels/.test(atEdge), `warning: ${atEdge}`);
    assert(
      cropWarning(
        vol([12, 8]),
        probs([
          [4, 0],
          [4, 4],
        ]),
        K,
      ) === null,
      'foreground on an uncropped edge (y) warned',
    );
    assert(cropWarning(vol([12, 8]), probs([[4, 4]]), K) === null, 'inner foreground warned');
    assert(cropWarning(vol([8, 8]), probs([[0, 0]]), K) === null, 'no crop, yet a warning');
  },
};

export const trainerCases: TestCase[] = [cropWarningCase, workerLoadCase, workerTrainerCase, resumeKeepsBestCase];
