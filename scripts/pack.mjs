// The published package (issue 28 item 5), staged in dist/package/: the files package.json "files" names, without
// their source-map comments (the maps stay out of the tarball), and a manifest without what only developing glocal
// needs (scripts, devDependencies, allowScripts). npm has no setting that drops manifest fields, so the root
// package.json is private (it cannot be published by mistake) and the staged one is what `npm publish` sends:
//   npm run build && node scripts/pack.mjs && npm publish ./dist/package     (or npm pack ./dist/package)
// (without the ./ npm takes dist/package for a GitHub repository)
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STAGE = 'dist/package';
const DEVELOPMENT_ONLY = ['scripts', 'devDependencies', 'allowScripts', 'private'];

/** Writes the staging folder from the built dist/ and returns its published manifest. */
export function stagePackage(out = STAGE) {
  const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const path of manifest.files) {
    if (statSync(path).isDirectory()) {
      cpSync(path, join(out, path), { recursive: true });
    } else {
      mkdirSync(dirname(join(out, path)), { recursive: true });
      // the bundles point at their .map files, which are not shipped: a dangling reference makes bundlers warn
      const text = readFileSync(path, 'utf8');
      const unmapped = path.endsWith('.js') ? text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n') : text;
      writeFileSync(join(out, path), unmapped);
    }
  }
  for (const field of DEVELOPMENT_ONLY) delete manifest[field];
  manifest.publishConfig = { access: 'public' }; // a scoped name is private on npm unless it says otherwise
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const m = stagePackage();
  console.log(`${m.name}@${m.version} staged in ${STAGE}: npm pack ./${STAGE}, or npm publish ./${STAGE}`);
}
