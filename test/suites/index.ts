import type { TestCase } from '../harness.ts';
import { sourceCases } from './sources.ts';
import { goldenCases } from './golden.ts';
import { kernelCases } from './kernels.ts';
import { winogradCases } from './winograd.ts';
import { opTableCases } from './op-table.ts';
import { inferenceCases } from './inference.ts';
import { overlapCases } from './overlap.ts';
import { networkCases } from './network.ts';
import { preprocessCases } from './preprocess.ts';
import { checkpointCases } from './checkpoint.ts';
import { niftiCases, niftiFileCases } from './nifti.ts';
import { phantomCases } from './phantom.ts';
import { augmentCases } from './augment.ts';
import { pipelineCases } from './pipeline.ts';
import { contrastiveCases } from './contrastive.ts';
import { experimentCases, experimentFileCases } from './experiment.ts';
import { onnxCases } from './onnx.ts';
import { onnxRecipeCases } from './onnx-python.ts';
import { trainerCases } from './trainer.ts';
import { dicomSegCases, dicomSegFileCases } from './dicom-seg.ts';
import { colourCases } from './colours.ts';
import { appCases } from './app.ts';
import { segCornerstoneFileCases } from './seg-cornerstone.ts';
import { dicomFileCases } from './dicom.ts';
import { failureCases, failureProcessCases } from './failures.ts';
import { gridCases, gridFileCases } from './grid.ts';
import { backendChoiceFileCases, budgetCases } from './backend-choice.ts';

/** Every case, in the order the runners execute them. */
export const allCases: TestCase[] = [
  ...sourceCases,
  ...preprocessCases,
  ...augmentCases,
  ...niftiCases,
  ...phantomCases,
  ...pipelineCases,
  ...gridCases,
  ...budgetCases,
  ...goldenCases,
  ...opTableCases,
  ...kernelCases,
  ...winogradCases,
  ...inferenceCases,
  ...contrastiveCases,
  ...networkCases,
  ...checkpointCases,
  ...overlapCases,
  ...onnxCases,
  ...onnxRecipeCases,
  ...trainerCases,
  ...dicomSegCases,
  ...colourCases,
  ...appCases,
  ...experimentCases,
  ...failureCases,
];

/** Cases that use the file system or the process (RSS): Node and Deno only. */
export const fileCases: TestCase[] = [
  ...niftiFileCases,
  ...gridFileCases,
  ...backendChoiceFileCases,
  ...experimentFileCases,
  ...failureProcessCases,
  ...dicomFileCases,
  ...dicomSegFileCases,
  ...segCornerstoneFileCases,
];
