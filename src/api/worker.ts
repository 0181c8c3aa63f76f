// The trainer worker (dist/worker.js): exposes a SessionHost over comlink. Browsers and Deno talk through the
// worker's global scope; Node through worker_threads' parentPort and comlink's node adapter.

import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { detectRuntime } from '../runtime/device.ts';
import { SessionHost } from './trainer.ts';

if (detectRuntime() === 'node') {
  const wt = 'node:worker_threads'; // computed: browser and Deno bundles must not resolve it
  const { parentPort } = await import(/* @vite-ignore */ wt);
  Comlink.expose(new SessionHost(), nodeEndpoint(parentPort));
} else {
  Comlink.expose(new SessionHost(), globalThis as unknown as Comlink.Endpoint);
}
