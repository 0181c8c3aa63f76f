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

// comlink ships its node adapter as an ES module beside a .d.ts of another name (node-adapter.d.ts).
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  export default function nodeEndpoint(port: unknown): Endpoint;
}

// dcmjs ships no type declarations: the part glocal uses (DICOM SEG writing, and reading in tests).
declare module 'dcmjs' {
  const dcmjs: {
    data: {
      DicomMetaDictionary: {
        uid(): string;
        denaturalizeDataset(d: object): object;
        naturalizeDataset(d: object): Record<string, any>;
      };
      DicomDict: new (meta: object) => { dict: object; meta: object; write(): ArrayBuffer };
      DicomMessage: { readFile(b: ArrayBuffer): { dict: object; meta: object } };
    };
  };
  export default dcmjs;
}
