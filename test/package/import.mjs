// Run by scripts/check-package.mjs in Node (as `import('glocal')`, the package's own exports) and in Deno (the
// bundle by path): the entry loads, and a trainer worker starts and reports its adapter.
const m = await import(globalThis.Deno ? '../../dist/index.js' : 'glocal');
for (const name of ['createTrainer', 'Session', 'exportOnnx', 'readNifti', 'UNet']) {
  if (typeof m[name] !== 'function') throw new Error(`the entry does not export ${name}`);
}
const t = await m.createTrainer({ worker: true, size: 32, width: 0.05 });
console.log(`${globalThis.Deno ? 'deno' : 'node'}: entry loaded; trainer worker on ${await t.adapter()}`);
await t.dispose();
