// The preprocessing recipe an exported ONNX model carries (metadata key 'glocal.preprocessing'), complete enough
// for a reader outside glocal to go from a volume to glocal's label map with nothing but the file:
// docs/onnx_segment.py does so with numpy and onnxruntime. Each step names glocal's implementation and gives
// its parameters; the defaults here are those src/data/pipeline.ts runs (correctBiasField's and
// normalizePercentiles'), and test/suites/onnx-python.ts fails if the Python reproduction drifts from them.

import type { UNetConfig } from '../model/unet.ts';
import type { PreprocessOptions } from '../data/pipeline.ts';

/** Metadata key of the recipe (JSON). */
export const RECIPE_KEY = 'glocal.preprocessing';
/** Bumped whenever a step changes meaning, so that an old reader refuses a new file rather than misreads it. */
export const RECIPE_VERSION = 1;

/** H and W must be multiples of this: each encoder level after the first halves the image (2×2 max pooling). */
export const sideMultiple = (cfg: UNetConfig) => 2 ** (cfg.encoder.length - 1);

/** The recipe of a model with preprocessing `pre` (see the module comment). */
export function preprocessingRecipe(cfg: UNetConfig, pre: PreprocessOptions, classes?: string[]) {
  const multiple = sideMultiple(cfg);
  return {
    recipe_version: RECIPE_VERSION,
    input: {
      name: 'image',
      layout: 'NCHW',
      dtype: 'float32',
      batch: 'slices of one volume along the slice axis, in order',
      h_w_multiple_of: multiple,
      why_multiple: `the UNet max-pools ${cfg.encoder.length - 1} times; other sides have no exact decoder path`,
    },
    output: { name: 'logits', layout: 'NCHW', classes: cfg.numClasses, class_names: classes ?? null },
    voxels: 'NIfTI frame 0 as float32 after scl_slope/scl_inter; affine: sform, else qform, else pixdim',
    orientation: {
      to: 'RAS',
      method: 'closest canonical, nibabel as_closest_canonical: permute and flip voxel axes only, no resampling',
      assignment:
        'repeatedly take the unused (world axis, voxel axis) pair with the largest |direction cosine| ' +
        '(ties: lower world axis, then lower voxel axis); flip the voxel axis where that cosine is negative',
    },
    slice_axis: {
      rule: 'the canonical axis with the largest spacing; spacings within tolerance of the largest tie, and ties go to the higher axis',
      relative_tolerance: 1e-3,
      move: 'move it last, the other two keep their order: slices are (x, y) planes, x fastest',
    },
    bias_field: biasFieldStep(pre.biasField),
    intensity: {
      method: 'percentile range',
      low_percentile: 1,
      high_percentile: 99,
      over: 'every voxel of the volume, after the bias field',
      percentile: 'float64 position q/100·(n − 1), linear between the two nearest ranks (numpy linear)',
      formula: '(x − p_low)·(1 / (p_high − p_low)) in float32 with p_low, p_high rounded to float32; no clipping',
    },
    spacing: {
      in_plane_mm: pre.targetSpacing,
      interpolation: 'bilinear, computed in float64, rounded once to float32; no anti-aliasing',
      sampling:
        'output pixel X reads u = (X + 0.5)·r − 0.5, r = target/native spacing, u clamped to [0, n − 1] (edge replicated)',
      output_size: 'max(1, round_half_even(n·native/target)) per axis',
    },
    size: {
      height: pre.size,
      width: pre.size,
      crop: 'per axis, centre crop from n to S starting at (n − S) // 2, or zero pad putting the image at (S − n) // 2',
    },
    postprocess: {
      probabilities: 'softmax over the classes',
      uncrop:
        'the inverse shift onto the resampled canvas; canvas pixels the network did not see get all-zero probabilities',
      to_native:
        'bilinear resize of every class map to the native in-plane size, same sampling with r = native/target spacing, float64',
      labels:
        'argmax per voxel, ties to the lowest class (all-zero: class 0); then undo the slice axis move and the reorientation',
    },
  };
}

/** The bias-field step: glocal's polynomial difference fit (correctBiasField's defaults), or none. */
function biasFieldStep(enabled: boolean) {
  if (!enabled) return { enabled: false };
  return {
    enabled: true,
    method: 'glocal polynomial difference fit (src/data/preprocess.ts correctBiasField), a stand-in for N4',
    mask: 'v > threshold and v > 0',
    threshold: {
      method: 'otsu',
      bins: 256,
      range: 'from the 0th to the 99.9th percentile (100th if those are equal); values at or above it in the last bin',
      value: 'upper edge of the last bin of the lower class; the first maximum of w0·w1·(mu0 − mu1)² with bin centres',
    },
    log: 'log v rounded to float32',
    coordinates: 'per axis (2i − (n − 1))/(n − 1), 0 when n = 1',
    degree: 3,
    degree_z: 'min(2, degree, nz − 1)',
    monomials: 'x^a y^b z^c for c ≤ degree_z, b ≤ degree − c, a ≤ degree − b − c; the constant is left out of the fit',
    pairs: 'neighbours along x, then y, then z (z only when nz ≥ 2 and degree_z ≥ 1), both in the mask, z-y-x order',
    equation: 'f(x′) − f(x) = log v(x′) − log v(x)',
    robust: {
      weights: 'Tukey biweight (1 − (e/c)²)² for |e| < c',
      c: '4.685 · 1.4826 · median |e| (lower median, at least 1e-9)',
      median_sample: 'every ceil(P/262144)-th mask pair (P: all pair positions), at most 262144, |e| as float32',
      rounds: 10,
      stop_when_sum_abs_change_below: 1e-4,
      solve: 'normal equations, Cholesky with ridge 1e-12·max diagonal',
    },
    apply:
      'g = exp(clamp(f, min over mask, max over mask) − log(mean over mask of exp f)); v / g in float64, rounded to float32',
  };
}

/**
 * The PreprocessOptions a recipe describes, for `glocal segment MODEL.onnx`: the ONNX route is prepared from the
 * file's own recipe, as a reader outside glocal would be. Refused: a recipe of another version (its steps may mean
 * something else) and one whose steps this glocal does not run.
 */
export function recipeOptions(recipe: Record<string, any>, source: string): PreprocessOptions {
  const fail = (why: string) => {
    throw new Error(`${source}: its preprocessing recipe ${why}`);
  };
  if (recipe.recipe_version !== RECIPE_VERSION)
    fail(`is version ${recipe.recipe_version}; this glocal reads version ${RECIPE_VERSION}`);
  const size = recipe.size?.height,
    spacing = recipe.spacing?.in_plane_mm;
  if (!Number.isInteger(size) || size !== recipe.size?.width || !(size > 0)) fail('has no square network size');
  if (!(typeof spacing === 'number' && spacing > 0)) fail('has no in-plane spacing');
  if (
    recipe.orientation?.to !== 'RAS' ||
    recipe.intensity?.low_percentile !== 1 ||
    recipe.intensity?.high_percentile !== 99
  )
    fail('names steps this glocal does not run (orientation RAS, p1/p99 intensities)');
  return { targetSpacing: spacing, size, biasField: recipe.bias_field?.enabled === true };
}
