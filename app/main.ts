// The browser app (dist/app, `npm run app`): NIfTI volumes in by drag and drop, labels from files or drawn in
// NiiVue, contrastive pre-training and fine-tuning in a worker on this machine's GPU (or its CPU, said at load)
// with live loss plots, progress and validation Dice, segmentation and ground truth shown as NiiVue overlays in the
// shared class colours (src/viewers/colours.ts) with a legend, and the segmentation downloaded as .nii.gz. Volumes, drawn labels and checkpoints live
// in the origin private file system (OPFS), so a reload keeps them and an interrupted run resumes.

import { Niivue, NVImage } from '@niivue/niivue';
import { createTrainer, type Trainer } from '../src/api/trainer.ts';
import {
  type VolumeFile,
  type StageProgress,
  type PretrainRequest,
  DEFAULT_SESSION,
  pretrainStageNames,
} from '../src/api/session.ts';
import { describeGrid } from '../src/presets.ts';
import { segmentNVImage } from '../src/viewers/adapters.ts';
import { cssColour, labelLut } from '../src/viewers/colours.ts';
import { decodeSafetensors } from '../src/train/checkpoint.ts';
import { checkBrowser } from './backend.ts';
import { drawPlots, endProgress, reportProgress, startProgress } from './progress.ts';

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
  renderValidationChoice();
}

/** Volumes with labels from a file can be held out for validation Dice (a sparse drawing would make Dice
 *  meaningless). With two or more, the last is chosen by default, so a first run already reports Dice. */
function renderValidationChoice(): void {
  const sel = $<HTMLSelectElement>('validation'),
    was = sel.value,
    names = [...volumes.values()].filter((e) => e.label && !e.drawn).map((e) => e.name);
  sel.replaceChildren(new Option('none', ''), ...names.map((n) => new Option(n, n)));
  sel.value = names.includes(was) ? was : names.length >= 2 && !sel.dataset.touched ? names[names.length - 1] : '';
}
$('validation').onchange = () => {
  $('validation').dataset.touched = '1';
};

// ------------------------------------------------------------------------------------------------ viewer
const nv = new Niivue({ backColor: [0, 0, 0, 1], show3Dcrosshair: false });
const viewerReady = nv.attachToCanvas($<HTMLCanvasElement>('viewer'));
let segmentation: Uint8Array | null = null;
/** The label overlays of the shown volume: its ground truth (file or drawing) and its segmentation. */
const layers: { truth: NVImage | null; seg: NVImage | null } = { truth: null, seg: null };

/** Re-stack the overlays the toggles ask for (truth under segmentation) at the slider's opacity. */
function refreshOverlays(): void {
  while (nv.volumes.length > 1) nv.removeVolume(nv.volumes[nv.volumes.length - 1]);
  const opacity = num('opacity') / 100;
  for (const [layer, on] of [
    [layers.truth, $<HTMLInputElement>('show-truth').checked],
    [layers.seg, $<HTMLInputElement>('show-seg').checked],
  ] as const) {
    if (!layer || !on) continue;
    layer.opacity = opacity;
    nv.addVolume(layer);
  }
  nv.updateGLVolume();
  document.body.dataset.overlays = String(nv.volumes.length - 1); // read by the e2e test
}

/** A label map (NIfTI bytes) as an NVImage coloured by the shared class table. */
async function labelImage(bytes: Uint8Array, name: string): Promise<NVImage> {
  const classes = classNames();
  const img = await NVImage.loadFromUrl({ url: name, buffer: bytes.slice().buffer, name, opacity: 0.6 });
  img.colormapLabel = labelLut(classes);
  return img;
}

async function show(name: string): Promise<void> {
  await viewerReady;
  const e = volumes.get(name)!;
  shown = name;
  while (nv.volumes.length) nv.removeVolume(nv.volumes[nv.volumes.length - 1]);
  // a drawing belongs to the volume it was drawn on (once used, it shows as that volume's ground truth)
  if (nv.drawBitmap) nv.closeDrawing();
  nv.setDrawingEnabled(false);
  $('draw').textContent = 'draw';
  await nv.loadFromArrayBuffer(e.image.slice().buffer, name);
  // a segmentation belongs to the volume it was made of
  layers.seg = null;
  segmentation = null;
  $<HTMLButtonElement>('download').disabled = true;
  layers.truth = e.label ? await labelImage(e.label, `${name.replace(/\.nii(\.gz)?$/i, '')}_truth.nii.gz`) : null;
  $<HTMLInputElement>('show-truth').disabled = !layers.truth;
  refreshOverlays();
  renderList();
}
$('opacity').oninput = () => {
  for (let i = 1; i < nv.volumes.length; i++) nv.setOpacity(i, num('opacity') / 100);
};
$('show-seg').onchange = refreshOverlays;
$('show-truth').onchange = refreshOverlays;

/** The legend: each class name (background excepted) beside its colour in the viewer, the PNG and the SEG. */
function renderLegend(): void {
  $('legend').replaceChildren(
    ...classNames()
      .slice(1)
      .map((name, i) => {
        const item = document.createElement('span'),
          sw = document.createElement('span');
        item.className = 'item';
        sw.className = 'swatch';
        sw.style.background = cssColour(i + 1);
        sw.dataset.class = String(i + 1);
        item.append(sw, `${i + 1} ${name}`);
        return item;
      }),
  );
}
$('classes').oninput = renderLegend;

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
  layers.truth = await labelImage(bytes, `${e.name}_drawn.nii.gz`);
  $<HTMLInputElement>('show-truth').disabled = false;
  refreshOverlays();
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

/** The class names, background first: the form's comma-separated names of label values 1, 2, … */
function classNames(): string[] {
  const names = $<HTMLInputElement>('classes')
    .value.split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  return ['background', ...(names.length ? names : ['foreground'])];
}

function settings() {
  status(`grid: ${describeGrid({ size: num('size'), targetSpacing: num('spacing'), width: num('width') })}`);
  return { size: num('size'), targetSpacing: num('spacing'), width: num('width'), classes: classNames() };
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

let validationName: string | null = null;
function onProgress(p: StageProgress): void {
  // the first iteration a call reports: a resumed run's shows where it went on (read by the e2e test)
  document.body.dataset.firstIteration ??= String(p.iteration);
  status(
    `${p.stage}: iteration ${p.iteration}/${p.iterations}, loss ${p.loss.toFixed(4)}${p.best !== undefined ? `, best validation Dice ${p.best.toFixed(3)}` : ''}`,
  );
  reportProgress(p, validationName);
}

/** While a call runs, the buttons that would start another (or change its trainer) are off, and cancel is on. */
function setRunning(on: boolean): void {
  document.querySelectorAll<HTMLButtonElement>('button.run-lock').forEach((b) => {
    b.disabled = on;
  });
  ($('network') as HTMLFieldSetElement).disabled = on;
  $<HTMLButtonElement>('cancel').disabled = !on;
  if (on) document.body.dataset.running = '1';
  else delete document.body.dataset.running;
}

/** The request of the running call, kept in OPFS with its checkpoints so that a reload can resume it. */
interface RunRecord {
  kind: 'pretrain' | 'finetune';
  request: Record<string, unknown>;
  settings: ReturnType<typeof settings>;
  /** the labeled volume held out of fine-tuning for validation Dice */
  validation?: string;
}

const volumeFile = (e: Entry, withLabel: boolean): VolumeFile => ({
  name: e.name,
  image: e.image.slice(),
  label: withLabel ? e.label!.slice() : undefined,
});

async function startRun(run: RunRecord, resume: Uint8Array | null): Promise<void> {
  const t = await getTrainer(),
    state = await dir('state');
  await put(state, 'run.json', JSON.stringify(run));
  delete document.body.dataset.firstIteration;
  delete document.body.dataset.lastCheckpoint;
  if (!resume) await remove(state, 'checkpoint.safetensors'); // an older run's
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
  // the stage names Session reports, in order: a resumed run's reports land in their own stage's range
  const stages = run.kind === 'finetune' ? ['finetune'] : pretrainStageNames(run.request as PretrainRequest);
  startProgress(run.kind, stages, Number(run.request.iterations));
  const finished = await (run.kind === 'pretrain' ? pretrainRun(t, common, state) : finetuneRun(t, run, common, state));
  live = false;
  if (!finished) return;
  await remove(state, 'run.json');
  await remove(state, 'checkpoint.safetensors');
  $('resume').hidden = true;
}

/** The pre-training call; true when it finished (not stopped). */
async function pretrainRun(t: Trainer, common: object, state: FileSystemDirectoryHandle): Promise<boolean> {
  const r = await t.pretrain(
    [...volumes.values()].map((e) => volumeFile(e, false)),
    common,
  );
  if (r.stopped) {
    endProgress(`pre-training stopped at iteration ${r.iteration}`);
    status(`pre-training stopped after iteration ${r.iteration}; resume continues it`);
    return false;
  }
  await put(state, 'pretrained.safetensors', r.checkpoint);
  endProgress('pre-training done', 1);
  status(`pre-training done (${r.iteration} iterations); fine-tuning will start from it`);
  return true;
}

/** The fine-tuning call, validating on the held-out volume when one is chosen; true when it finished. */
async function finetuneRun(t: Trainer, run: RunRecord, common: object, state: FileSystemDirectoryHandle) {
  const held = run.validation ? volumes.get(run.validation) : undefined,
    val = held?.label ? [volumeFile(held, true)] : [];
  validationName = val.length ? held!.name : null;
  const labeled = [...volumes.values()].filter((e) => e.label && e !== held).map((e) => volumeFile(e, true));
  if (!labeled.length) {
    endProgress('not started', 0);
    status(
      val.length
        ? `no labeled volume left to train on besides the validation volume ${held!.name}: choose none or add labels`
        : 'no labeled volume: drop label maps (name_gt.nii.gz) or draw labels first',
    );
    return false;
  }
  const init = await get(state, 'pretrained.safetensors');
  const sparse = [...volumes.values()].some((e) => e.drawn);
  const r = await t.finetune(labeled, {
    ...common,
    validation: val,
    init: init ?? undefined,
    labeledSlicesOnly: sparse,
  });
  if (r.stopped) {
    endProgress(`fine-tuning stopped at iteration ${r.iteration}`);
    status(`fine-tuning stopped after iteration ${r.iteration}; resume continues it`);
    return false;
  }
  await put(state, 'model.safetensors', r.checkpoint);
  const dice =
    r.bestValDice !== undefined && r.bestValDice >= 0 ? `, best validation Dice ${r.bestValDice.toFixed(3)}` : '';
  endProgress(`fine-tuning done${dice}`, 1);
  status(`fine-tuning done (${r.iteration} iterations${dice}); segment a volume`);
  return true;
}

function guard(f: () => Promise<void>): () => void {
  return () => void f().catch((e) => status(`error: ${(e as Error).message}`));
}
/** guard for what computes (a run, a segmentation): the starting buttons are off until it ends, however it ends. */
function locked(f: () => Promise<void>): () => void {
  return guard(async () => {
    setRunning(true);
    try {
      await f();
    } catch (e) {
      endProgress(`failed: ${(e as Error).message}`);
      throw e;
    } finally {
      setRunning(false);
    }
  });
}
$('pretrain').onclick = locked(() =>
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
$('finetune').onclick = locked(() =>
  startRun(
    {
      kind: 'finetune',
      settings: settings(),
      request: {
        iterations: num('finetune-iters'),
        batch: num('batch'),
        valEvery: Math.max(1, Math.round(num('finetune-iters') / 4)),
      },
      validation: $<HTMLSelectElement>('validation').value || undefined,
    },
    null,
  ),
);
$('cancel').onclick = guard(async () => {
  if (trainer) await trainer.cancel();
});
$('resume').onclick = locked(async () => {
  const state = await dir('state'),
    run = JSON.parse(new TextDecoder().decode((await get(state, 'run.json'))!)) as RunRecord;
  for (const [k, v] of Object.entries(run.settings))
    if (k !== 'classes') $<HTMLInputElement>(k === 'targetSpacing' ? 'spacing' : k).value = String(v);
  $<HTMLInputElement>('classes').value = run.settings.classes.slice(1).join(', ');
  renderLegend();
  await startRun(run, await get(state, 'checkpoint.safetensors'));
});
$('segment').onclick = locked(async () => {
  if (!shown) return status('open a volume first');
  const t = await getTrainer(),
    model = await get(await dir('state'), 'model.safetensors');
  if (!model) return status('no model yet: fine-tune first');
  await t.loadModel(model);
  // the viewer adapter: the shown NVImage in, an overlay NVImage on the same grid out, in the legend's colours
  const seg = await segmentNVImage(t, nv.volumes[0], NVImage, { classNames: classNames() });
  layers.seg = seg.overlay;
  $<HTMLInputElement>('show-seg').checked = true;
  refreshOverlays();
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

// ------------------------------------------------------------------------------------------------ at load
renderLegend();
drawPlots();
void checkBrowser().then((c) => {
  $('backend').textContent = c.message;
  document.body.dataset.backend = c.kind; // read by the e2e test and the notice's style
});

// restore after a reload
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
