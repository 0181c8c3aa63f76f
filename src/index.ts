// glocal: train and run 2D segmentation UNets on WebGPU in Node, Deno and browsers.
export { createGpuContext, describeAdapter, detectRuntime, getNavigatorGpu, type GpuContext, type AdapterDescription } from './device/gpu.ts';
export { Runtime, GpuTensor, Params, type RuntimeOptions } from './runtime/runtime.ts';
export { GpuBackend, CHUNK } from './ops/gpu.ts';
export { RefBackend, RefTensor } from './ops/reference.ts';
export * from './ops/backend.ts';
export { Tape, Var } from './autodiff/tape.ts';
export * as ops from './autodiff/ops.ts';
export { ParamSet } from './nn/params.ts';
export { UNet, paperUNet, tinyUNet, type UNetConfig } from './model/unet.ts';
export { SegmentationTrainer, paperClassWeights, type SegLoss } from './train/segmentation.ts';
export { Rng } from './util/random.ts';
