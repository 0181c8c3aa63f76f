// glocal export-onnx: a trained checkpoint as an ONNX inference graph, with its configuration, preprocessing
// and class names in the metadata.
import { exportOnnx, ONNX_OPSET } from '../onnx/onnx.ts';
import { removeStaleTemps, writeFileAtomic } from '../io/files.ts';
import { checkOutputFolder } from './outputs.ts';
import { loadModel, runtime } from './common.ts';

export async function exportOnnxCommand(a: { model: string; out: string }): Promise<void> {
  await checkOutputFolder('--out', a.out);
  await removeStaleTemps(a.out);
  const { ob, be } = await runtime();
  const { model, pre, classes } = await loadModel(a.model, be);
  await writeFileAtomic(a.out, await exportOnnx(model, { preprocess: pre, classes }));
  console.log(
    `wrote ${a.out}: ONNX (opset ${ONNX_OPSET}) of ${a.model}; input "image" [N, 1, H, W], output "logits" [N, ${model.config.numClasses}, H, W]`,
  );
  ob.close();
}
