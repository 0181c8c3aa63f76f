// Run by scripts/check-package.mjs in a consumer folder where only the packed tarball is installed: in Node as
// `import('@glocal-seg/glocal')` (the package's own exports), in Deno as `import('npm:@glocal-seg/glocal')`. The
// entry loads, and a trainer worker starts and reports its adapter.
const m = await import(globalThis.Deno ? 'npm:@glocal-seg/glocal' : '@glocal-seg/glocal');
const names = [
  'createTrainer',
  'Session',
  'exportOnnx',
  'readNifti',
  'UNet',
  'dicomSeg',
  'segmentNVImage',
  'phantomVolume',
];
for (const name of names) {
  if (typeof m[name] !== 'function') throw new Error(`the entry does not export ${name}`);
}
const t = await m.createTrainer({ worker: true, size: 32, width: 0.05 });
const how = globalThis.Deno ? 'deno (npm:@glocal-seg/glocal)' : "node (import '@glocal-seg/glocal')";
console.log(`${how}: entry loaded; trainer worker on ${await t.adapter()}`);
await t.dispose();
