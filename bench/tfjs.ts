// TensorFlow.js 4.22 (tfjs-core + tfjs-backend-webgpu) as the side-by-side reference of the kernel benchmark.
// It runs in this Node process on the same dawn.node GPU entry point as glocal (getNavigatorGpu), so both
// request the same adapter; tfjs creates its own GPUDevice on it.

import type * as TF from '@tensorflow/tfjs-core';
import { getNavigatorGpu } from '../src/runtime/device.ts';

export type Tf = typeof TF;
export type TfTensor = TF.Tensor;

/** The parts of tfjs-backend-webgpu's WebGPUBackend the benchmark uses (not in tfjs-core's KernelBackend type). */
interface WebGpuBackendLike {
  device: GPUDevice;
  queue: GPUQueue;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

export interface TfjsSide {
  tf: Tf;
  version: string;
  /** Finish everything tfjs recorded: submit its pending command encoder and wait for the queue. */
  sync(): Promise<void>;
  /** WebGPU validation errors raised on tfjs's device (tfjs itself does not listen for them). */
  errors: string[];
  conv2d(x: TfTensor, w: TfTensor): TfTensor;
  conv2dInputGrad(dy: TfTensor, w: TfTensor, inputShape: [number, number, number, number]): TfTensor;
  conv2dWeightGrad(x: TfTensor, dy: TfTensor, filterShape: [number, number, number, number]): TfTensor;
  matmul(a: TfTensor, b: TfTensor): TfTensor;
}

/**
 * Load tfjs with the webgpu backend. The backend registers itself at import time only when
 * globalThis.navigator.gpu exists, so navigator is set before the dynamic import.
 */
export async function loadTfjs(): Promise<TfjsSide> {
  const gpu = await getNavigatorGpu(); // also copies the 'webgpu' globals (GPUBufferUsage, ...) onto globalThis
  const g = globalThis as any;
  if (!g.navigator?.gpu) {
    // Node >= 21 has a getter-only globalThis.navigator: define, do not assign.
    Object.defineProperty(globalThis, 'navigator', {
      value: { ...(g.navigator ?? {}), gpu },
      configurable: true,
      writable: true,
    });
  }
  // tfjs-core's Node entry is CommonJS: the namespace has the named exports and a `default` with all of them.
  const core: any = await import('@tensorflow/tfjs-core');
  const tf: Tf = (core.conv2d ? core : core.default) as Tf;
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend failed to initialise');
  await tf.ready();
  // Narrow cast: the backend object is tfjs-backend-webgpu's WebGPUBackend.
  const be = tf.backend() as unknown as WebGpuBackendLike;
  const errors: string[] = [];
  be.device.addEventListener?.('uncapturederror', (ev: any) => {
    if (errors.length < 10) errors.push(String(ev.error?.message ?? ev));
  });
  const attrs = { strides: 1, pad: 'same' as const, dataFormat: 'NHWC' as const, dimRoundingMode: undefined };
  return {
    tf,
    version: `tfjs-core ${tf.version_core}, tfjs-backend-webgpu ${__TFJS_WEBGPU_VERSION__}`,
    errors,
    async sync() {
      be.ensureCommandEncoderReady();
      be.endComputePassEncoder();
      be.submitQueue();
      await be.queue.onSubmittedWorkDone();
    },
    // 'same' with stride 1: tfjs pads floor((k-1)/2) before and the rest after, as TF (checked in the bench).
    conv2d: (x, w) => tf.conv2d(x as TF.Tensor4D, w as TF.Tensor4D, 1, 'same'),
    conv2dInputGrad: (dy, w, inputShape) =>
      // runKernel's attribute map is typed as NamedAttrMap; the kernel reads the Conv2DBackpropInputAttrs fields.
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape } as any) as TfTensor,
    conv2dWeightGrad: (x, dy, filterShape) =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape } as any) as TfTensor,
    matmul: (a, b) => tf.matMul(a, b, false, false),
  };
}

/** Set by scripts/build.mjs from the bundled package (the webgpu backend does not export its version). */
declare const __TFJS_WEBGPU_VERSION__: string;
