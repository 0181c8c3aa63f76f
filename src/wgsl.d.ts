// WGSL files are embedded as text by the esbuild `text` loader (scripts/build.mjs).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
