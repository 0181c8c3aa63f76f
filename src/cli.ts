// glocal command line (Node; `deno run -A dist/cli.js` works the same way). This file is the wiring only: each
// command's options, checked by commander as it reads them (src/cli/parsers.ts), then its work in src/cli/<command>.ts.
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { BACKEND_KINDS, type BackendKind } from './ops/open-backend.ts';
import { CONV3X3_ALGORITHMS, type Conv3x3, WINOGRAD_MIN_CHANNELS } from './ops/wasm.ts';
import { PRESET_NAMES } from './presets.ts';
import { GLOCAL_VERSION } from './version.ts';
import { integerOption } from './cli/options.ts';
import {
  classList,
  gridSize,
  gridSpacing,
  labeledList,
  methodList,
  mixupAlpha,
  presetList,
  stageList,
} from './cli/parsers.ts';
import { SEG_TYPES } from './cli/seg-out.ts';
import { chooseBackend, notAnInput } from './cli/common.ts';
import { writePhantom } from './cli/phantom.ts';
import { train } from './cli/train.ts';
import { pretrainCommand } from './cli/pretrain.ts';
import { ENGINES, segment } from './cli/segment.ts';
import { exportOnnxCommand } from './cli/export-onnx.ts';
import { evaluate } from './cli/evaluate.ts';
import { quickstart } from './cli/quickstart.ts';
import { experiment } from './cli/experiment.ts';
import { ceilingCommand } from './cli/ceiling.ts';
import { convergenceCommand } from './cli/convergence.ts';
import { probe } from './cli/probe.ts';
import { demo, demoSizeError } from './cli/demo.ts';
import { emitJson, jsonMode } from './cli/json.ts';
import {
  DEFAULT_TRAIN_OUT,
  defaultOnnxOut,
  defaultSegmentOut,
  sayIfReplacing,
  trainFolder,
} from './cli/output-names.ts';

// decimal digits only ('0x10', '1e3', '' and '-5' are refused by name: src/cli/options.ts); count: at least 1
const int = (name: string) => integerOption(name, 0);
const count = (name: string) => integerOption(name, 1);

const PRESET_HELP = `${PRESET_NAMES.join(' | ')}: the network grid (size, spacing), width and budgets (src/presets.ts)`;

/** --preset, one of the presets' names (src/presets.ts). */
const presetOption = (def: string, help = PRESET_HELP) =>
  new Option('--preset <name>', help).choices(PRESET_NAMES).default(def);

/** An option whose value is one of `choices`. */
const oneOf = (flags: string, help: string, choices: readonly string[], def?: string) => {
  const o = new Option(flags, help).choices(choices);
  return def === undefined ? o : o.default(def);
};

/** --size and --spacing: they replace the preset's grid; a dataset's own spacing never does. */
function gridOptions(c: Command): Command {
  return c
    .option('--size <px>', "network side in pixels, a multiple of 32 (default: the preset's)", gridSize)
    .option('--spacing <mm>', "in-plane grid spacing in mm (default: the preset's)", gridSpacing);
}

/** --json on the commands with results (src/cli/json.ts). */
const jsonOption = (c: Command): Command =>
  c.option('--json', 'print the settings and results as one JSON object on stdout; everything else goes to stderr');

/** --backend and --threads on every command that computes (handed to src/cli/common.ts by the preAction hook). */
function backendOptions(c: Command): Command {
  return c
    .addOption(
      oneOf(
        '--backend <kind>',
        'webgpu, wasm (WebAssembly SIMD on the CPU), or auto (a hardware WebGPU adapter, else wasm)',
        BACKEND_KINDS,
        'auto',
      ),
    )
    .option('--threads <n>', 'wasm backend threads (default: every core)', int('--threads'))
    .addOption(
      oneOf(
        '--conv3x3 <algorithm>',
        `wasm backend's 3x3 convolutions: auto (Winograd where both sides have ${WINOGRAD_MIN_CHANNELS}+ channels, else implicit GEMM), ` +
          'winograd (F(2x2,3x3) everywhere: the rounding of runs made from 2026-12-07 until auto) or gemm (implicit GEMM everywhere: the rounding of runs made before Winograd)',
        CONV3X3_ALGORITHMS,
        'auto',
      ),
    );
}

const program = new Command('glocal')
  .version(GLOCAL_VERSION)
  .description(
    'Train and run medical image segmentation UNets on WebGPU (Chaitanya et al. 2020: global + local contrastive pre-training).',
  )
  .showHelpAfterError()
  .hook('preAction', (_, action) => {
    const o = action.opts();
    jsonMode(o.json === true);
    if (o.backend) chooseBackend(o.backend as BackendKind, { threads: o.threads, conv3x3: o.conv3x3 as Conv3x3 });
  });

program
  .command('phantom')
  .description('write a seeded synthetic cardiac MR dataset (NIfTI + manifest.json)')
  .requiredOption('--out <dir>', 'output folder')
  .option('--n <count>', 'number of volumes', count('--n'), 24)
  .option('--seed <seed>', 'dataset seed', int('--seed'), 1)
  .action(async (o) => writePhantom(resolve(o.out), o.n, o.seed));

jsonOption(
  backendOptions(
    gridOptions(
      program
        .command('train')
        .description('supervised training from random init on the labeled "train" volumes of a dataset')
        .requiredOption('--data <dir>', 'dataset folder (manifest.json/.csv, ACDC or MSD layout)')
        .addOption(presetOption('quick'))
        .option('--labeled <n>', 'use only n labeled training volumes', count('--labeled'))
        .option('--iterations <n>', 'override the preset', count('--iterations'))
        .option('--seed <seed>', 'seed', int('--seed'), 1)
        .option(
          '--out <dir>',
          `where the checkpoints go (default: ${DEFAULT_TRAIN_OUT}, or ${DEFAULT_TRAIN_OUT}-2, -3, ... where it holds an earlier run's; --resume: ${DEFAULT_TRAIN_OUT})`,
        )
        .option('--png <file>', 'overlay PNG of the middle slice of one test volume, at its own resolution')
        .addOption(
          oneOf(
            '--loss <kind>',
            'dice (soft Dice with background, the default) or ce (class-weighted cross-entropy)',
            ['dice', 'ce'],
            'dice',
          ),
        )
        .option('--resume', 'continue an interrupted run from <out>/last.safetensors')
        .option('--mixup <alpha>', 'Mixup on the labeled batch with Beta(alpha, alpha), e.g. 0.1', mixupAlpha)
        .option(
          '--init <ckpt>',
          'start from a pre-training checkpoint (glocal pretrain): its encoder, and decoder blocks 1..l after a local stage',
        ),
    ),
  ),
).action(async (o) => {
  const out = o.out ? resolve(o.out) : await trainFolder(resolve(DEFAULT_TRAIN_OUT), o.resume === true);
  await sayIfReplacing('--png', o.png && resolve(o.png));
  const png = o.png && resolve(o.png);
  emitJson('train', await train({ ...o, data: resolve(o.data), out, png, init: o.init && resolve(o.init) }));
});

backendOptions(
  gridOptions(
    program
      .command('pretrain')
      .description('contrastive pre-training on the volumes outside val/test: stage 1 global, optionally stage 2 local')
      .requiredOption('--data <dir>', 'dataset folder')
      .addOption(oneOf('--strategy <name>', 'global loss: GR, GD- or GD', ['GR', 'GD-', 'GD'], 'GD'))
      .addOption(
        oneOf(
          '--local <name>',
          'then a local stage: LR, LD, or LDx (L^D plus same-region negatives from other partitions, a deviation)',
          ['LR', 'LD', 'LDx'],
        ),
      )
      .addOption(
        oneOf(
          '--regions <kind>',
          "local stage: 'reference' (13 regions, 5 negatives each) or 'dense' (a 4-px grid, all others negative)",
          ['reference', 'dense'],
          'reference',
        ),
      )
      .addOption(presetOption('small'))
      .option('--iterations <n>', 'override the preset', count('--iterations'))
      .option('--out <dir>', 'checkpoints go here', 'runs/pretrain')
      .option('--resume', 'continue interrupted stages from <out>/*.last.safetensors'),
  ),
).action(async (o) => pretrainCommand({ ...o, data: resolve(o.data), out: resolve(o.out) }));

jsonOption(
  backendOptions(
    program
      .command('segment')
      .description('segment a NIfTI volume or a DICOM series; the label map keeps the input grid and affine')
      .argument('<input...>', 'image .nii or .nii.gz, or a DICOM series: its folder, or its files')
      .requiredOption(
        '--model <file>',
        'checkpoint (.safetensors), or an ONNX file from export-onnx (.onnx, or recognised by its contents): run on ort-wasm with the preprocessing its metadata records',
      )
      .option(
        '--out <file>',
        'label volume to write (.nii.gz; default, without --seg-out: <input>_seg.nii.gz beside the input, or -2, -3, ... where that exists)',
      )
      .option('--seg-out <file>', 'DICOM SEG to write (DICOM input only): segments coded in SNOMED CT by class name')
      .addOption(
        oneOf(
          '--seg-type <type>',
          "'binary' (Segmentation Storage) or 'labelmap' (Label Map Segmentation Storage)",
          SEG_TYPES,
          'binary',
        ),
      )
      .addOption(
        oneOf(
          '--engine <name>',
          "webgpu (glocal's kernels), ort-wasm (onnxruntime-web's wasm EP: an ONNX file, or a checkpoint exported in memory), or auto (on a software adapter the faster of the two, measured once and remembered); an ONNX model runs on ort-wasm",
          ENGINES,
          'webgpu',
        ),
      )
      .option('--png <file>', "overlay PNG of the middle slice at the input's resolution, with titles and a legend"),
  ),
).action(async (inputs: string[], o, cmd: Command) => {
  const paths = inputs.map((i) => resolve(i));
  const [segOut, png] = [o.segOut && resolve(o.segOut), o.png && resolve(o.png)];
  // neither output named: the label map gets a name derived from the input, claimed when it is written
  const derivedOut = !o.out && !segOut;
  const out = o.out ? resolve(o.out) : derivedOut ? await defaultSegmentOut(paths) : undefined;
  for (const f of [out, segOut, png].filter(Boolean)) notAnInput(f, [...paths, resolve(o.model)]);
  if (derivedOut) console.log(`--out not given: the label map goes to ${out}`);
  else
    for (const [opt, f] of [
      ['--out', out],
      ['--seg-out', segOut],
    ])
      await sayIfReplacing(opt!, f);
  await sayIfReplacing('--png', png);
  const engineGiven = cmd.getOptionValueSource('engine') === 'cli';
  emitJson(
    'segment',
    await segment(paths, { ...o, model: resolve(o.model), out, derivedOut, segOut, png }, engineGiven),
  );
});

backendOptions(
  program
    .command('export-onnx')
    .description('export a trained model checkpoint to ONNX (inference graph; loads back with loadOnnxWeights)')
    .requiredOption('--model <ckpt>', 'checkpoint (.safetensors)')
    .option(
      '--out <file>',
      'the .onnx file to write (default: <checkpoint>.onnx beside it, or -2, -3, ... where that exists)',
    ),
).action(async (o) => {
  if (o.out === '') throw new Error('--out: an empty file name (leave --out out for <checkpoint>.onnx)');
  const derivedOut = o.out === undefined,
    out = resolve(o.out ?? defaultOnnxOut(o.model));
  if (!derivedOut) notAnInput(out, [resolve(o.model)]);
  await exportOnnxCommand({ model: resolve(o.model), out, derivedOut });
});

program
  .command('evaluate')
  .description('per-class 3-D Dice and HD95 of a predicted label volume against ground truth')
  .argument('<prediction>', 'predicted label map (.nii/.nii.gz, class indices), e.g. from glocal segment')
  .argument('<truth>', 'ground-truth label map on the same grid and affine (class indices 0..K-1)')
  .option(
    '--classes <names>',
    'comma-separated class names, background first (default: as many as the truth has, 0..its largest label)',
    classList,
  )
  .option('--json', 'print the settings and results as one JSON object on stdout; everything else goes to stderr')
  .action(async (p, t, o) => emitJson('evaluate', await evaluate(resolve(p), resolve(t), o.classes)));

backendOptions(
  program
    .command('quickstart')
    .description(
      'the main job: phantom data → train on 2 labeled volumes (quick preset) → Dice on held-out volumes → PNG',
    )
    .option('--dir <dir>', 'working folder', 'runs/quickstart')
    .addOption(presetOption('quick')),
).action(async (o) => quickstart(resolve(o.dir), o.preset));

jsonOption(
  backendOptions(
    gridOptions(
      program
        .command('experiment')
        .description('pre-train once per method, fine-tune per labeled count and run, Dice table (resumes)')
        .option('--data <dir>', 'dataset folder (default: a 32-volume phantom written to <out>/data)')
        .option(
          '--out <dir>',
          'results folder (experiment.csv, .md, .svg, pretrain/<preset>/); runners on other methods or presets may share it',
          'results',
        )
        .addOption(presetOption('small'))
        .option(
          '--pretrain-seeds <n>',
          'pre-train every stage with seeds 1..n and fine-tune each run from each (a claim needs n ≥ 2)',
          count('--pretrain-seeds'),
          1,
        )
        .addOption(
          new Option('--labeled <list>', 'labeled volumes per fine-tuning, comma-separated')
            .argParser(labeledList)
            .default([2], '"2"'),
        )
        .addOption(
          new Option(
            '--methods <list>',
            'random, GR, GD-, GD, GD+LR, GD+LD, GD+LDx, rotation, restoration, inpainting (each optionally +frozen: fine-tuning leaves the encoder alone, then +mixup, then +self: self-training with pseudo-labels), benchmark; a local method + /k fine-tunes from decoder blocks 1..k only (e.g. GD+LD/1), + @n stops its local stage after n iterations (e.g. GD+LD@0)',
          )
            .argParser(methodList)
            .default(['random', 'GR', 'GD+LD'], '"random,GR,GD+LD"'),
        )
        .option('--runs <n>', 'runs per cell (a seed and a labeled draw each)', count('--runs'), 5)
        .option(
          '--first-run <k>',
          'do runs k..n only (runners on other ranges may share the GPU; scripts/experiment-parallel.sh)',
          count('--first-run'),
          1,
        )
        .option('--report-only', 'compute nothing: write the table and plot of the rows in <out>/experiment.csv')
        .option(
          '--keep-models',
          "save each computed cell's fine-tuned network to <out>/models/ (glocal probe --stages takes them)",
        )
        .addOption(
          oneOf(
            '--init <kind>',
            "the fine-tuned network's random init: 'fixed' (seed 1, the pre-training's, in every run) or 'run' (the run's seed)",
            ['fixed', 'run'],
            'fixed',
          ),
        )
        .addOption(
          oneOf(
            '--draw <kind>',
            "labeled volumes per run: 'independent' (a shuffle per run; runs may share volumes) or 'disjoint' (no volume twice within ⌊pool/labeled⌋ runs); rows of the other kind are other cells",
            ['independent', 'disjoint'],
            'independent',
          ),
        )
        .option(
          '--iterations <n>',
          "fine-tuning iterations instead of the preset's (the same checkpoints; rows get another preset_def and their own table)",
          count('--iterations'),
        ),
    ),
  ),
).action(async (o) => {
  if (o.firstRun > o.runs)
    throw new InvalidArgumentError(`--first-run ${o.firstRun} is after --runs ${o.runs}: no run to do`);
  emitJson('experiment', await experiment({ ...o, data: o.data && resolve(o.data), out: resolve(o.out) }));
});

// ceiling's default: every preset but smoke
const CEILING_PRESETS = PRESET_NAMES.filter((n) => n !== 'smoke');

gridOptions(
  program
    .command('ceiling')
    .description(
      "the best Dice any network can score on a preset's grid: test volumes' ground truth through the grid and back",
    )
    .option('--data <dir>', "dataset folder (default: the experiment's phantom in <out>/data)")
    .option('--out <dir>', 'an experiment folder', 'results')
    .addOption(
      new Option('--presets <list>', 'comma-separated presets')
        .argParser(presetList)
        .default(CEILING_PRESETS, JSON.stringify(CEILING_PRESETS.join(','))),
    ),
).action(async (o) => ceilingCommand({ ...o, data: o.data && resolve(o.data), out: resolve(o.out) }));

backendOptions(
  gridOptions(
    program
      .command('convergence')
      .description(
        'validation curves of the all-labels benchmark and of random init on few volumes, and the fine-tuning budget where both stop rising',
      )
      .option('--data <dir>', "dataset folder (default: the experiment's phantom in <out>/data)")
      .option('--out <dir>', 'where the curves go', 'results')
      .addOption(presetOption('small'))
      .option(
        '--iterations <n>',
        'iterations of each curve (several times the budget in question)',
        count('--iterations'),
        3000,
      )
      .option('--labeled <n>', 'labeled volumes of the random-init curve', count('--labeled'), 2)
      .option(
        '--resume',
        'continue both curves from their checkpoints in --out to a larger --iterations (same bits as one longer run)',
      ),
  ),
).action(async (o) => convergenceCommand({ ...o, data: o.data && resolve(o.data), out: resolve(o.out) }));

backendOptions(
  gridOptions(
    program
      .command('probe')
      .description(
        "how well pre-trained encoders group slices by partition across volumes (G^D's positives): 1-NN retrieval",
      )
      .option('--data <dir>', "dataset folder (default: the experiment's phantom in <out>/data)")
      .option('--out <dir>', 'an experiment folder with pretrain/<preset>/<stage>.safetensors', 'results')
      .addOption(presetOption('small', 'the preset the stages were trained at'))
      .addOption(
        new Option(
          '--stages <list>',
          "init (the stages' common start), GR, GD-, GD, or .safetensors files of this network (their encoder)",
        )
          .argParser(stageList)
          .default(['init', 'GR', 'GD'], '"init,GR,GD"'),
      ),
  ),
).action(async (o) => probe({ ...o, data: o.data && resolve(o.data), out: resolve(o.out) }));

backendOptions(
  program
    .command('demo')
    .description('train a small UNet on one synthetic batch (a smoke test of the GPU path)')
    .option('--steps <n>', 'steps', count('--steps'), 60)
    .option('--size <px>', 'image side', count('--size'), 32)
    .option('--batch <n>', 'batch', count('--batch'), 4)
    .option('--paper', "the paper's full UNet"),
).action(async (o) => {
  const sizeError = demoSizeError(o);
  if (sizeError) throw new InvalidArgumentError(sizeError);
  await demo(o);
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`glocal: ${(e as Error).message}`);
  process.exit(1); // a held GPU device or timer must not keep a failed command alive
}
