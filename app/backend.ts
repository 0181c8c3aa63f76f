// What this browser can compute on, asked once at load and said in a clinician's words. The trainer worker makes
// the same choice on its own (openBackend 'auto': a hardware WebGPU adapter, else the wasm backend); this check
// only explains it, and what to change for speed, before anyone waits on a slow run.

export interface BrowserCheck {
  kind: 'webgpu' | 'wasm';
  /** one or two sentences for the page */
  message: string;
}

const FOR_SPEED =
  'For speed, use Chrome or Edge 113 or later on Windows, macOS or ChromeOS ' +
  '(on Linux, turn on chrome://flags/#enable-unsafe-webgpu and restart the browser).';

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}

export async function checkBrowser(): Promise<BrowserCheck> {
  const threads = globalThis.crossOriginIsolated
    ? ''
    : ' This page is not cross-origin isolated, so the CPU uses one thread.';
  const cpu = (why: string): BrowserCheck => ({
    kind: 'wasm',
    message: `${why}: training runs on the CPU (slower). ${FOR_SPEED}${threads}`,
  });
  if (!globalThis.isSecureContext)
    return cpu('No GPU access: WebGPU needs a secure page (open the app at http://localhost or over https)');
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<AdapterLike | null> } }).gpu;
  if (!gpu) return cpu('No GPU access in this browser (it has no WebGPU, or WebGPU is switched off)');
  let adapter: AdapterLike | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch {
    adapter = null;
  }
  if (!adapter)
    return cpu(
      'This browser has WebGPU but was given no GPU (a blocked or unsupported graphics driver; chrome://gpu says which)',
    );
  const info = adapter.info ?? {};
  // a software adapter (SwiftShader) is slower than the CPU backend, so the worker does not take it either
  if (adapter.isFallbackAdapter || info.isFallbackAdapter || /swiftshader|software/i.test(info.architecture ?? ''))
    return cpu('Only a software GPU is available in this browser');
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  return {
    kind: 'webgpu',
    message: `Training runs on this computer's GPU${name ? ` (${name})` : ''} through WebGPU.`,
  };
}
