// glocal: train and run 2D segmentation UNets on WebGPU in Node, Deno and browsers.
// The declarations name WebGPU's types (GPUDevice, ...): a consumer gets them from this dependency, in its lib or not.
/// <reference types="@webgpu/types" preserve="true" />
export {
  createGpuContext,
  describeAdapter,
  detectRuntime,
  getNavigatorGpu,
  type GpuContext,
  type AdapterDescription,
} from './runtime/device.ts';
export { Runtime, GpuTensor, type RuntimeOptions } from './runtime/runtime.ts';
export { GpuBackend, CHUNK } from './ops/webgpu.ts';
export { RefBackend, RefTensor } from './ops/reference.ts';
export * from './ops/backend.ts';
export { Tape, Var } from './autodiff/tape.ts';
export * as ops from './autodiff/ops.ts';
export { ParamSet } from './model/params.ts';
export { UNet, paperUNet, tinyUNet, type UNetConfig } from './model/unet.ts';
export { SegmentationTrainer, paperClassWeights, type SegLoss } from './train/segmentation.ts';
export { Rng } from './util/random.ts';

// The task-level API: NIfTI bytes in; checkpoints, label maps and ONNX out; in this thread or in a worker.
export { createTrainer, type Trainer, type TrainerOptions } from './api/trainer.ts';
export { TrainerError, type TrainerErrorCode } from './api/errors.ts';
export {
  Session,
  DEFAULT_SESSION,
  type VolumeFile,
  type SessionOptions,
  type StageProgress,
  type ProgressFn,
  type PretrainRequest,
  type FinetuneRequest,
  type TrainResult,
  type Segmentation,
  type NamedVolumeScore,
} from './api/session.ts';
export { phantomVolume, type PhantomVolumeOptions } from './api/phantom-volume.ts';
export { exportOnnx, loadOnnxWeights, onnxModelInfo, OnnxError, ONNX_OPSET, type OnnxModelInfo } from './onnx/onnx.ts';
export { readNifti, writeNifti, NiftiError } from './io/nifti.ts';
export {
  readDicomSeries,
  DicomError,
  type DicomInstance,
  type DicomVolume,
  type ReadDicomOptions,
  type DicomErrorCode,
} from './io/dicom.ts';
export type { Volume } from './volume/volume.ts';
export type { VolumeScore } from './train/finetune.ts';
export {
  segmentNVImage,
  segmentCornerstoneVolume,
  volumeFromCornerstone,
  SEGMENT_COLORS,
  type NVImageLike,
  type NVImageFactory,
  type CornerstoneVolumeLike,
  type SegmentInfo,
} from './viewers/adapters.ts';
export { dicomSeg, rgbToDicomLab, type DicomSource } from './viewers/dicom-seg.ts';
export { SEGMENT_COLOURS, segmentColour, labelLut, type Rgb } from './viewers/colours.ts';
