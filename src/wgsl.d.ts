// WGSL files are embedded as text by the esbuild `text` loader (scripts/build.mjs).
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// The AssemblyScript preprocessing module, embedded as bytes by the esbuild `binary` loader.
declare module '*.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
