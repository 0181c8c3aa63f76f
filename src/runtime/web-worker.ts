// The web Worker class as it was when glocal loaded. Emscripten modules that take Deno for Node (onnxruntime-web's
// wasm build does, once it loads) replace globalThis.Worker with worker_threads' Worker, which takes no blob: URL
// and is not an EventTarget; the trainer's worker and the wasm backend's kernel threads use this one instead.
export const WebWorker: typeof Worker | undefined = (globalThis as { Worker?: typeof Worker }).Worker;
