// The glocal command as a script would call it (issue 28 items 10 and 12), in Node: --json results parsed from
// stdout, default output names that never replace a file, the overlay PNG's size, and an .onnx model on
// segment's ONNX route giving the checkpoint's label map. One small phantom and a 2-iteration smoke-preset
// model on the wasm backend (one thread) keep it to seconds.
import { decode } from 'fast-png';
import { type TestCase, assert } from '../harness.ts';
import { readNiftiFile } from '../../src/io/nifti-file.ts';
import { nodeFs } from '../../src/io/files.ts';

const proc = (globalThis as any).process;

/** dist/cli.js with `args` in `cwd`: status, stdout and stderr apart (--json's contract is about stdout). */
function glocal(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const { spawnSync } = proc.getBuiltinModule('node:child_process'); // not bundled
  const cli = `${proc.cwd()}/dist/cli.js`;
  const r = spawnSync(proc.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The one JSON object --json prints: stdout must be exactly that (one line). */
function json(r: ReturnType<typeof glocal>, what: string): Record<string, any> {
  assert(r.status === 0, `${what}: exit ${r.status}\n${r.stderr}`);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert(lines.length === 1, `${what}: stdout is not one line of JSON:\n${r.stdout}`);
  return JSON.parse(lines[0]);
}

const WASM = ['--backend', 'wasm', '--threads', '1'];

/** A folder with a 6-volume phantom and a smoke-preset model trained 2 iterations (train --json checked). */
async function fixture(dir: string) {
  const fs = await nodeFs();
  await fs.mkdir(dir, { recursive: true });
  assert(glocal(dir, 'phantom', '--out', 'data', '--n', '6').status === 0, 'phantom');
  const args = ['train', '--data', 'data', '--preset', 'smoke', '--iterations', '2', '--out', 'run', '--json'];
  const t = json(glocal(dir, ...args, '--png', 'train.png', ...WASM), 'train --json');
  assert(
    t.command === 'train' && t.grid.size === 32 && t.backend.startsWith('wasm') && t.settings.iterations === 2,
    `train --json settings: ${JSON.stringify(t).slice(0, 400)}`,
  );
  assert(
    t.classes.length === 4 && typeof t.test.meanDice === 'number' && typeof t.test.volumes[0].dice.LV === 'number',
    `train --json numbers: ${JSON.stringify(t.test).slice(0, 400)}`,
  );
  await fs.copyFile(`${dir}/data/phantom_000.nii.gz`, `${dir}/scan.nii.gz`);
  return fs;
}

/** An overlay PNG: native resolution upscaled to ≥ 512 px a panel, with title and legend bands. */
function checkPng(bytes: Uint8Array, panels: number, nx: number, ny: number, what: string) {
  const png = decode(bytes),
    f = Math.max(1, Math.ceil(512 / nx));
  assert(
    png.width >= panels * nx * f && png.width >= 512,
    `${what}: ${png.width} px wide, want ≥ ${panels}×${nx}×${f}`,
  );
  assert(png.height > ny * f, `${what}: ${png.height} px high: no room for the title and legend`);
}

export const cliCases: TestCase[] = [
  {
    name: "CLI: --json on train, segment, evaluate and experiment is one JSON object on stdout; segment names its output without replacing one; overlay PNG ≥ 512 px; an .onnx model gives the checkpoint's labels",
    async run() {
      const dir = `${proc.cwd()}/dist/test-results/cli-json-${Date.now().toString(36)}`;
      const fs = await fixture(dir);
      try {
        // no --out: <input>_seg.nii.gz beside it; a second run never replaces it
        const s = json(
          glocal(
            dir,
            'segment',
            'scan.nii.gz',
            '--model',
            'run/model.safetensors',
            '--png',
            'seg.png',
            '--json',
            ...WASM,
          ),
          'segment --json',
        );
        assert(
          s.outputs.out === `${dir}/scan_seg.nii.gz` && s.engine === 'glocal wasm',
          `segment --json: ${JSON.stringify(s)}`,
        );
        assert(
          s.grid.size === 32 && s.classes[3] === 'LV' && s.dims.join() === '172,162,10',
          `segment settings: ${JSON.stringify(s)}`,
        );
        const again = glocal(dir, 'segment', 'scan.nii.gz', '--model', 'run/model.safetensors', ...WASM);
        assert(
          again.status === 0 &&
            again.stdout.includes(`${dir}/scan_seg.nii.gz exists: writing ${dir}/scan_seg-2.nii.gz instead`),
          `a second segment without --out: ${again.stdout}${again.stderr}`,
        );
        const [first, second] = [
          await readNiftiFile(`${dir}/scan_seg.nii.gz`),
          await readNiftiFile(`${dir}/scan_seg-2.nii.gz`),
        ];
        assert(
          first.data.every((v, i) => v === second.data[i]),
          'the second label map differs from the first',
        );
        checkPng(await fs.readFile(`${dir}/seg.png`), 2, 172, 162, 'segment --png');
        checkPng(await fs.readFile(`${dir}/train.png`), 3, 172, 162, 'train --png');
        // evaluate --json: per-class numbers under the class names
        const e = json(
          glocal(
            dir,
            'evaluate',
            'scan_seg.nii.gz',
            'data/phantom_000_gt.nii.gz',
            '--classes',
            'background,RV,myocardium,LV',
            '--json',
          ),
          'evaluate --json',
        );
        assert(
          typeof e.dice.myocardium === 'number' && e.hd95.background === null && typeof e.meanForeground === 'number',
          `evaluate --json: ${JSON.stringify(e)}`,
        );
        // item 10: the exported ONNX file, named .onnx or not, runs on the ONNX route with the recipe in its metadata
        assert(
          glocal(dir, 'export-onnx', '--model', 'run/model.safetensors', '--out', 'model.onnx', ...WASM).status === 0,
          'export-onnx',
        );
        // without --out: <checkpoint>.onnx beside it, the same bytes; a second export never replaces it
        const derived = [1, 2].map(() => glocal(dir, 'export-onnx', '--model', 'run/model.safetensors', ...WASM));
        assert(
          derived.every((r) => r.status === 0) &&
            derived[1].stdout.includes(`${dir}/run/model.onnx exists: writing ${dir}/run/model-2.onnx instead`),
          `export-onnx without --out: ${derived.map((r) => r.stdout + r.stderr).join(' | ')}`,
        );
        const named = await fs.readFile(`${dir}/model.onnx`);
        for (const f of ['run/model.onnx', 'run/model-2.onnx']) {
          assert(Buffer.compare(await fs.readFile(`${dir}/${f}`), named) === 0, `${f} differs from model.onnx`);
        }
        await fs.copyFile(`${dir}/model.onnx`, `${dir}/model.bin`);
        for (const model of ['model.onnx', 'model.bin']) {
          const o = json(
            glocal(dir, 'segment', 'scan.nii.gz', '--model', model, '--out', `${model}.nii.gz`, '--json'),
            `segment --model ${model}`,
          );
          assert(
            o.engine === 'ort-wasm' && o.grid.size === 32 && o.grid.spacing === 8,
            `segment ${model}: ${JSON.stringify(o)}`,
          );
          const got = await readNiftiFile(`${dir}/${model}.nii.gz`);
          let differ = 0;
          for (let i = 0; i < got.data.length; i++) if (got.data[i] !== first.data[i]) differ++;
          assert(
            differ === 0,
            `${model}: ${differ} of ${got.data.length} voxels differ from the checkpoint's label map`,
          );
        }
        const refused = glocal(
          dir,
          'segment',
          'scan.nii.gz',
          '--model',
          'model.onnx',
          '--engine',
          'webgpu',
          '--out',
          'x.nii.gz',
        );
        assert(
          refused.status === 1 && refused.stderr.includes('is an ONNX file'),
          `--engine webgpu on an ONNX file: ${refused.stderr}`,
        );
        // experiment --json: the settings, one computed cell and its row
        const x = json(
          glocal(
            dir,
            'experiment',
            '--data',
            'data',
            '--out',
            'ex',
            '--preset',
            'smoke',
            '--methods',
            'random',
            '--labeled',
            '1',
            '--runs',
            '1',
            '--iterations',
            '2',
            '--json',
            ...WASM,
          ),
          'experiment --json',
        );
        assert(
          x.grid.size === 32 && x.settings.methods[0] === 'random' && x.cells[0].runs === 1,
          `experiment --json: ${JSON.stringify(x).slice(0, 600)}`,
        );
        assert(
          x.rows.length === 1 && typeof x.rows[0].dice.LV === 'number',
          `experiment rows: ${JSON.stringify(x.rows)}`,
        );
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  },
];
