// A training loop on the wasm backend never waits on anything outside JavaScript: without a yield, a cancel sent to
// its worker (a message) would wait in the event queue until the loop ended. Loops that can be stopped yield once
// per iteration: setImmediate in Node and Deno, a MessageChannel round trip in browsers (no timer clamping).

export function yieldToEvents(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (g.setImmediate) return new Promise((resolve) => g.setImmediate!(resolve));
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}
