// glocal export-onnx: a trained checkpoint as an ONNX inference graph, with its configuration, preprocessing
// and class names in the metadata.
import { exportOnnx, ONNX_OPSET } from '../onnx/onnx.ts';
import { removeStaleTemps, writeFileAtomic } from '../io/files.ts';
import { checkOutputFolder } from './outputs.ts';
import { loadModel, runtime } from './common.ts';
import { claimDerived } from './output-names.ts';

/** `derivedOut`: the name was derived (no --out), so it is claimed, never replacing a file (output-names.ts). */
export async function exportOnnxCommand(a: { model: string; out: string; derivedOut: boolean }): Promise<void> {
  await checkOutputFolder('--out', a.out);
  await removeStaleTemps(a.out);
  const { ob, be } = await runtime();
  const { model, pre, classes } = await loadModel(a.model, be);
  const bytes = await exportOnnx(model, { preprocess: pre, classes });
  const claim = a.derivedOut ? await claimDerived(a.out) : null;
  const out = claim?.path ?? a.out;
  try {
    await writeFileAtomic(out, bytes);
  } catch (e) {
    await claim?.release();
    throw e;
  }
  console.log(
    `wrote ${out}: ONNX (opset ${ONNX_OPSET}) of ${a.model}; input "image" [N, 1, H, W], output "logits" [N, ${model.config.numClasses}, H, W]`,
  );
  ob.close();
}
