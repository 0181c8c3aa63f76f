// The browser app (dist/app, `npm run app`): NIfTI volumes in by drag and drop, labels from files or drawn in
// NiiVue, contrastive pre-training and fine-tuning in a worker on this machine's GPU with a live loss plot,
// segmentation shown as a NiiVue overlay and downloaded as .nii.gz. Volumes, drawn labels and checkpoints live
// in the origin private file system (OPFS), so a reload keeps them and an interrupted run resumes.

import { Niivue, NVImage } from '@niivue/niivue';
import { createTrainer, type Trainer } from '../src/api/trainer.ts';
import { type VolumeFile, type StageProgress, DEFAULT_SESSION } from '../src/api/session.ts';
import { describeGrid } from '../src/presets.ts';
import { segmentNVImage } from '../src/viewers/adapters.ts';
import { decodeSafetensors } from '../src/train/checkpoint.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (line: string) => {
  $('status').textContent = line;
};

// ------------------------------------------------------------------------------------------------ storage (OPFS)
const root = navigator.storage.getDirectory().then((d) => d.getDirectoryHandle('glocal-app', { create: true }));
async function dir(name: string): Promise<FileSystemDirectoryHandle> {
  return (await root).getDirectoryHandle(name, { create: true });
}

/** Write into a temporary file, then move it over the name: a crash never leaves half a file under the name. */
async function put(d: FileSystemDirectoryHandle, name: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = await d.getFileHandle(`${name}.tmp`, { create: true });
  const w = await tmp.createWritable();
  await w.write(typeof bytes === 'string' ? bytes : new Uint8Array(bytes));
  await w.close();
  await (tmp as unknown as { move(d: FileSystemDirectoryHandle, n: string): Promise<void> }).move(d, name);
}
async function get(d: FileSystemDirectoryHandle, name: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await (await (await d.getFileHandle(name)).getFile()).arrayBuffer());
  } catch {
    return null;
  }
}
async function remove(d: FileSystemDirectoryHandle, name: string): Promise<void> {
  await d.removeEntry(name).catch(() => {});
}

// ------------------------------------------------------------------------------------------------ volumes
interface Entry {
  name: string;
  image: Uint8Array;
  label: Uint8Array | null;
  drawn: boolean;
}
const volumes = new Map<string, Entry>();
let shown: string | null = null;

const labelOf = (name: string) => name.replace(/_(gt|seg|label|labels)(\.nii(\.gz)?)$/i, '$2');
const isLabelName = (name: string) => labelOf(name) !== name;

async function addFiles(files: { name: string; bytes: Uint8Array }[]): Promise<void> {
  const [imgs, labs] = [await dir('volumes'), await dir('labels')];
  for (const f of files.filter((f) => !isLabelName(f.name))) {
    volumes.set(f.name, { name: f.name, image: f.bytes, label: volumes.get(f.name)?.label ?? null, drawn: false });
    await put(imgs, f.name, f.bytes);
  }
  for (const f of files.filter((f) => isLabelName(f.name))) {
    const e = volumes.get(labelOf(f.name));
    if (!e) {
      status(`${f.name}: no volume named ${labelOf(f.name)} to attach these labels to (drop both together)`);
      continue;
    }
    e.label = f.bytes;
    await put(labs, e.name, f.bytes);
  }
  renderList();
  if (!shown && volumes.size) await show([...volumes.keys()][0]);
}

function renderList(): void {
  const ul = $('volumes');
  ul.replaceChildren(
    ...[...volumes.values()].map((e) => {
      const li = document.createElement('li');
      li.className = e.name === shown ? 'current' : '';
      li.textContent = `${e.name} — ${e.label ? (e.drawn ? 'drawn labels' : 'labeled') : 'unlabeled'} `;
      const b = document.createElement('button');
      b.textContent = 'show';
      b.onclick = () => void show(e.name);
      li.append(b);
      return li;
    }),
  );
}

// ------------------------------------------------------------------------------------------------ viewer
const nv = new Niivue({ backColor: [0, 0, 0, 1], show3Dcrosshair: false });
const viewerReady = nv.attachToCanvas($<HTMLCanvasElement>('viewer'));
let segmentation: Uint8Array | null = null;

async function show(name: string): Promise<void> {
  await viewerReady;
  const e = volumes.get(name)!;
  shown = name;
  while (nv.volumes.length) nv.removeVolume(nv.volumes[nv.volumes.length - 1]);
  await nv.loadFromArrayBuffer(e.image.slice().buffer, name);
  renderList();
}

$('draw').onclick = () => {
  const on = !nv.opts.drawingEnabled;
  if (on && !nv.drawBitmap) nv.createEmptyDrawing();
  nv.setDrawingEnabled(on);
  nv.setPenValue(Number($<HTMLSelectElement>('pen').value), false);
  $('draw').textContent = on ? 'stop drawing' : 'draw';
};
$('pen').onchange = () => nv.setPenValue(Number($<HTMLSelectElement>('pen').value), false);
$('use-drawing').onclick = async () => {
  if (!shown) return status('open a volume first');
  const bytes = await nv.saveImage({ filename: '', isSaveDrawing: true, volumeByIndex: 0 });
  if (!(bytes instanceof Uint8Array)) return status('nothing drawn yet');
  const e = volumes.get(shown)!;
  e.label = bytes;
  e.drawn = true;
  await put(await dir('labels'), e.name, bytes);
  await put(await dir('drawn'), e.name, '1');
  renderList();
  status(`${e.name}: the drawing is its label map (fine-tuning uses only the slices with labels)`);
};

// ------------------------------------------------------------------------------------------------ training
let trainer: Trainer | null = null,
  trainerKey = '';
const num = (id: string) => Number($<HTMLInputElement>(id).value);

// the grid inputs start at the library's default (the `quick` preset), the one table every entry point reads
for (const [id, v] of [
  ['size', DEFAULT_SESSION.size],
  ['spacing', DEFAULT_SESSION.targetSpacing],
  ['width', DEFAULT_SESSION.width],
] as const) {
  $<HTMLInputElement>(id).value = String(v);
}

function settings() {
  const K = num('classes');
  status(`grid: ${describeGrid({ size: num('size'), targetSpacing: num('spacing'), width: num('width') })}`);
  return {
    size: num('size'),
    targetSpacing: num('spacing'),
    width: num('width'),
    classes: ['background', ...Array.from({ length: K - 1 }, (_, k) => `class${k + 1}`)],
  };
}
async function getTrainer(): Promise<Trainer> {
  const s = settings(),
    key = JSON.stringify(s);
  if (!trainer || key !== trainerKey) {
    await trainer?.dispose();
    trainer = await createTrainer({ worker: true, ...s });
    trainerKey = key;
    status(`trainer worker on ${await trainer.adapter()}`);
  }
  return trainer;
}

const losses: { stage: string; loss: number }[] = [];
function plot(): void {
  const c = $<HTMLCanvasElement>('plot'),
    g = c.getContext('2d')!;
  c.width = c.clientWidth;
  c.height = c.clientHeight;
  g.clearRect(0, 0, c.width, c.height);
  if (losses.length < 2) return;
  const max = Math.max(...losses.map((l) => l.loss)),
    min = Math.min(...losses.map((l) => l.loss));
  const colors: Record<string, string> = { finetune: '#c00' };
  g.lineWidth = 1.5;
  for (let i = 1; i < losses.length; i++) {
    g.strokeStyle = colors[losses[i].stage] ?? '#06c';
    g.beginPath();
    const y = (v: number) => c.height - 10 - ((v - min) / Math.max(1e-9, max - min)) * (c.height - 20);
    g.moveTo(((i - 1) / (losses.length - 1)) * c.width, y(losses[i - 1].loss));
    g.lineTo((i / (losses.length - 1)) * c.width, y(losses[i].loss));
    g.stroke();
  }
  g.fillStyle = '#333';
  g.fillText(
    `${losses[losses.length - 1].stage} loss ${losses[losses.length - 1].loss.toFixed(4)} (blue: pre-training, red: fine-tuning)`,
    8,
    14,
  );
}
function onProgress(p: StageProgress): void {
  // the first iteration a call reports: a resumed run's shows where it went on (read by the e2e test)
  document.body.dataset.firstIteration ??= String(p.iteration);
  losses.push({ stage: p.stage, loss: p.loss });
  status(
    `${p.stage}: iteration ${p.iteration}/${p.iterations}, loss ${p.loss.toFixed(4)}${p.best !== undefined ? `, best validation Dice ${p.best.toFixed(3)}` : ''}`,
  );
  plot();
}

/** The request of the running call, kept in OPFS with its checkpoints so that a reload can resume it. */
interface RunRecord {
  kind: 'pretrain' | 'finetune';
  request: Record<string, unknown>;
  settings: ReturnType<typeof settings>;
}

async function startRun(run: RunRecord, resume: Uint8Array | null): Promise<void> {
  const t = await getTrainer(),
    state = await dir('state');
  await put(state, 'run.json', JSON.stringify(run));
  delete document.body.dataset.firstIteration;
  delete document.body.dataset.lastCheckpoint;
  if (!resume) await remove(state, 'checkpoint.safetensors'); // an older run's
  const vols = (labeledOnly: boolean): VolumeFile[] =>
    [...volumes.values()]
      .filter((e) => !labeledOnly || e.label)
      .map((e) => ({ name: e.name, image: e.image.slice(), label: labeledOnly ? e.label!.slice() : undefined }));
  let live = true;
  // a checkpoint arriving after its call returned (its own channel, like progress) must not outlive the run: the
  // next run would resume from it. The body records the last one stored (read by the e2e test before its reload).
  const onCheckpoint = (bytes: Uint8Array, iteration: number) => {
    if (!live) return;
    void put(state, 'checkpoint.safetensors', bytes).then(() => {
      if (live) document.body.dataset.lastCheckpoint = String(iteration);
    });
  };
  // progress crosses from the worker on its own channel: reports still on their way when the call has returned
  // (a fast backend sends many) must not overwrite the call's final status
  const progress = (p: StageProgress) => {
    if (live) onProgress(p);
  };
  const common = {
    ...run.request,
    onProgress: progress,
    checkpointEvery: 25,
    onCheckpoint,
    resume: resume ?? undefined,
  };
  if (run.kind === 'pretrain') {
    const r = await t.pretrain(vols(false), common);
    live = false;
    if (r.stopped) return status(`pre-training stopped after iteration ${r.iteration}; resume continues it`);
    await put(state, 'pretrained.safetensors', r.checkpoint);
    status(`pre-training done (${r.iteration} iterations); fine-tuning will start from it`);
  } else {
    const labeled = vols(true);
    if (!labeled.length) return status('no labeled volume: drop label maps (name_gt.nii.gz) or draw labels first');
    const init = await get(state, 'pretrained.safetensors');
    const sparse = [...volumes.values()].some((e) => e.drawn);
    const r = await t.finetune(labeled, { ...common, init: init ?? undefined, labeledSlicesOnly: sparse });
    live = false;
    if (r.stopped) return status(`fine-tuning stopped after iteration ${r.iteration}; resume continues it`);
    await put(state, 'model.safetensors', r.checkpoint);
    status(
      `fine-tuning done (${r.iteration} iterations${r.bestValDice !== undefined && r.bestValDice >= 0 ? `, best validation Dice ${r.bestValDice.toFixed(3)}` : ''}); segment a volume`,
    );
  }
  await remove(state, 'run.json');
  await remove(state, 'checkpoint.safetensors');
  $('resume').hidden = true;
}

function guard(f: () => Promise<void>): () => void {
  return () => void f().catch((e) => status(`error: ${(e as Error).message}`));
}
$('pretrain').onclick = guard(() =>
  startRun(
    {
      kind: 'pretrain',
      settings: settings(),
      request: {
        strategy: $<HTMLSelectElement>('strategy').value,
        local: $<HTMLSelectElement>('local').value || undefined,
        iterations: num('pretrain-iters'),
      },
    },
    null,
  ),
);
$('finetune').onclick = guard(() =>
  startRun(
    {
      kind: 'finetune',
      settings: settings(),
      request: {
        iterations: num('finetune-iters'),
        batch: num('batch'),
        valEvery: Math.max(1, Math.round(num('finetune-iters') / 4)),
      },
    },
    null,
  ),
);
$('cancel').onclick = guard(async () => {
  if (trainer) await trainer.cancel();
});
$('resume').onclick = guard(async () => {
  const state = await dir('state'),
    run = JSON.parse(new TextDecoder().decode((await get(state, 'run.json'))!)) as RunRecord;
  for (const [k, v] of Object.entries(run.settings))
    if (k !== 'classes') $<HTMLInputElement>(k === 'targetSpacing' ? 'spacing' : k).value = String(v);
  $<HTMLInputElement>('classes').value = String(run.settings.classes.length);
  await startRun(run, await get(state, 'checkpoint.safetensors'));
});
$('segment').onclick = guard(async () => {
  if (!shown) return status('open a volume first');
  const t = await getTrainer(),
    model = await get(await dir('state'), 'model.safetensors');
  if (!model) return status('no model yet: fine-tune first');
  await t.loadModel(model);
  // the viewer adapter: the shown NVImage in, an overlay NVImage on the same grid out
  const seg = await segmentNVImage(t, nv.volumes[0], NVImage, { classes: num('classes') });
  while (nv.volumes.length > 1) nv.removeVolume(nv.volumes[nv.volumes.length - 1]);
  nv.addVolume(seg.overlay);
  segmentation = seg.labels;
  ($('download') as HTMLButtonElement).disabled = false;
  status(`segmented ${shown}${seg.cropWarning ? `\nwarning: ${seg.cropWarning}` : ''}`);
  document.body.dataset.segmented = shown;
});
$('download').onclick = () => {
  if (!segmentation || !shown) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([new Uint8Array(segmentation)], { type: 'application/gzip' }));
  a.download = `${shown.replace(/\.nii(\.gz)?$/i, '')}_glocal.nii.gz`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
};

// ------------------------------------------------------------------------------------------------ input
const readFiles = async (list: FileList | null) =>
  addFiles(
    await Promise.all(
      Array.from(list ?? []).map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
    ),
  );
$<HTMLInputElement>('files').onchange = (ev) =>
  void readFiles((ev.target as HTMLInputElement).files).catch((e) => status(`error: ${e.message}`));
const drop = $('drop');
document.addEventListener('dragover', (ev) => {
  ev.preventDefault();
  drop.classList.add('over');
});
document.addEventListener('dragleave', () => drop.classList.remove('over'));
document.addEventListener(
  'drop',
  (ev) => {
    ev.preventDefault(); // also keeps NiiVue from opening the files itself
    drop.classList.remove('over');
    void readFiles(ev.dataTransfer?.files ?? null).catch((e) => status(`error: ${e.message}`));
  },
  true,
);

// ------------------------------------------------------------------------------------------------ restore after a reload
(async () => {
  const [imgs, labs, drawn, state] = [
    await dir('volumes'),
    await dir('labels'),
    await dir('drawn'),
    await dir('state'),
  ];
  for await (const [name] of imgs as unknown as AsyncIterable<[string, FileSystemHandle]>) {
    if (name.endsWith('.tmp')) continue;
    volumes.set(name, {
      name,
      image: (await get(imgs, name))!,
      label: await get(labs, name),
      drawn: (await get(drawn, name)) !== null,
    });
  }
  renderList();
  if (volumes.size) await show([...volumes.keys()][0]);
  const run = await get(state, 'run.json');
  if (run) {
    $('resume').hidden = false;
    const r = JSON.parse(new TextDecoder().decode(run)) as RunRecord;
    const ckpt = await get(state, 'checkpoint.safetensors');
    const at = ckpt
      ? JSON.parse(decodeSafetensors(ckpt, 'checkpoint.safetensors').meta.glocal ?? '{}').iteration
      : null;
    status(
      `an interrupted ${r.kind} run can be resumed${ckpt ? ` from its last checkpoint (iteration ${at})` : ' (from the start: no checkpoint yet)'}`,
    );
  } else if (await get(state, 'model.safetensors')) status(`restored ${volumes.size} volumes and the fine-tuned model`);
  else status(volumes.size ? `restored ${volumes.size} volumes` : 'drop NIfTI volumes to begin');
  document.body.dataset.ready = '1';
})().catch((e) => status(`error: ${(e as Error).message}`));
