// Run by scripts/check-package.mjs: in Node as `import('glocal')` (the package's own exports), in Deno as
// `import('npm:glocal')` from a project whose node_modules holds the package. The entry loads, and a trainer
// worker starts and reports its adapter.
const m = await import(globalThis.Deno ? 'npm:glocal' : 'glocal');
for (const name of ['createTrainer', 'Session', 'exportOnnx', 'readNifti', 'UNet', 'dicomSeg', 'segmentNVImage']) {
  if (typeof m[name] !== 'function') throw new Error(`the entry does not export ${name}`);
}
const t = await m.createTrainer({ worker: true, size: 32, width: 0.05 });
console.log(`${globalThis.Deno ? 'deno (npm:glocal)' : "node (import 'glocal')"}: entry loaded; trainer worker on ${await t.adapter()}`);
await t.dispose();
