// The named presets, one table for every command, the experiment runner, the library and the app. A preset fixes
// the network grid (side in pixels and in-plane spacing, hence the field of view), the width and the budgets.
// The grid rule: the preset, or explicit size/spacing overrides, decide the grid. A dataset's own spacing is never
// taken as the grid: the phantom's manifest says 1.367 mm, which at 64² would crop the heart's 262 mm view to 88 mm.

export interface Preset {
  /** network input side, pixels */
  size: number;
  /** in-plane spacing of the network grid, mm */
  targetSpacing: number;
  /** channel multiplier of the paper's UNet (1: 16 channels at level 1) */
  width: number;
  /** fine-tuning: slices per batch, iterations, validation interval */
  batch: number;
  iterations: number;
  valEvery: number;
  /** iterations of each contrastive pre-training stage */
  pretrainIterations: number;
  /** slices per G^R / L^R batch, volumes per G^D group (even), per G^{D−} / L^D group */
  gBatch: number;
  lBatch: number;
  gdVolumes: number;
  groupVolumes: number;
}

/** The cardiac field of view of the paper's ACDC setting: 192 px at 1.36719 mm. */
export const PAPER_FOV_MM = 192 * 1.36719;

/** The pre-training sizes of the CPU presets (quick to wide): they differ in grid, width and fine-tuning only. */
const CPU_PRETRAINING = { pretrainIterations: 4000, gBatch: 8, lBatch: 6, gdVolumes: 4, groupVolumes: 3 } as const;

export const PRESETS = {
  /** seconds: every stage of the pipeline end to end, nothing learnt (tests) */
  smoke: {
    size: 32,
    targetSpacing: 8,
    width: 0.05,
    batch: 2,
    iterations: 3,
    valEvery: 3,
    pretrainIterations: 2,
    gBatch: 2,
    lBatch: 2,
    gdVolumes: 2,
    groupVolumes: 2,
  },
  /** `glocal quickstart`: random init on 2 labeled volumes in about 5 minutes on 2 cores (lavapipe) */
  quick: {
    size: 96,
    targetSpacing: 2.73438,
    width: 0.25,
    batch: 8,
    iterations: 800,
    valEvery: 200,
    ...CPU_PRETRAINING,
  },
  /** the experiment grid sized for 2 CPU cores: 64² at 4.1 mm (the paper's 262 mm view), width ×0.25 */
  small: {
    size: 64,
    targetSpacing: 4.1,
    width: 0.25,
    batch: 8,
    iterations: 500,
    valEvery: 100,
    ...CPU_PRETRAINING,
  },
  /** 96² at 2.73 mm (262 mm), width ×0.25: decoder block 3 is a 24² map */
  medium: {
    size: 96,
    targetSpacing: 2.73438,
    width: 0.25,
    batch: 8,
    iterations: 800,
    valEvery: 50,
    ...CPU_PRETRAINING,
  },
  /**
   * the CPU claim grid: 128² at 2.05 mm (262.5 mm), width ×0.5 (8 channels at level 1). 96² is the largest grid a
   * claim may not use on the phantom: its ceiling is 0.926 for the myocardium (`glocal ceiling`), 128²'s is ≥ 0.954
   */
  wide: {
    size: 128,
    targetSpacing: 2.05078,
    width: 0.5,
    batch: 8,
    iterations: 4500,
    valEvery: 100,
    ...CPU_PRETRAINING,
  },
  /** the paper's sizes (paper-spec §5.1): a GPU */
  full: {
    size: 192,
    targetSpacing: 1.36719,
    width: 1,
    batch: 20,
    iterations: 10001,
    valEvery: 50,
    pretrainIterations: 10001,
    gBatch: 12,
    lBatch: 10,
    gdVolumes: 6,
    groupVolumes: 3,
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export class PresetError extends Error {}

export function presetNamed(name: string): Preset {
  if (!(name in PRESETS)) throw new PresetError(`unknown preset '${name}' (one of ${PRESET_NAMES.join(', ')})`);
  return PRESETS[name as PresetName];
}

/** Explicit grid options (--size, --spacing): they replace the preset's, and nothing else does. */
export interface GridOverrides {
  size?: number;
  spacing?: number;
}

/** The network grid a run uses: side, spacing and the field of view they span. */
export interface Grid {
  size: number;
  spacing: number;
  fovMm: number;
}

export function checkGridOverrides(o: GridOverrides): void {
  // the UNet pools five times: a side that is not a multiple of 32 has no exact decoder path back
  if (o.size !== undefined && !(Number.isInteger(o.size) && o.size >= 32 && o.size % 32 === 0)) {
    throw new PresetError(
      `grid size ${o.size}: the network side must be a positive multiple of 32 (the UNet pools 5 times)`,
    );
  }
  if (o.spacing !== undefined && !(Number.isFinite(o.spacing) && o.spacing >= 0.05 && o.spacing <= 50)) {
    throw new PresetError(`grid spacing ${o.spacing}: the in-plane grid spacing must be between 0.05 and 50 mm`);
  }
}

/** The preset with its grid replaced by the overrides (checked): what every command prepares its data with. */
export function withGrid(p: Preset, o: GridOverrides = {}): Preset {
  checkGridOverrides(o);
  return { ...p, size: o.size ?? p.size, targetSpacing: o.spacing ?? p.targetSpacing };
}

export const gridOf = (p: Pick<Preset, 'size' | 'targetSpacing'>): Grid => ({
  size: p.size,
  spacing: p.targetSpacing,
  fovMm: Math.round(p.size * p.targetSpacing * 10) / 10,
});

/** "64×64 px at 4.1 mm: a 262.4 mm field of view, width ×0.25" (printed at the start of every command). */
export function describeGrid(p: Pick<Preset, 'size' | 'targetSpacing' | 'width'>): string {
  const g = gridOf(p);
  return `${g.size}×${g.size} px at ${g.spacing} mm: a ${g.fovMm} mm field of view, width ×${p.width}`;
}

/** A line for a dataset whose manifest suggests another spacing: said, never applied. */
export function datasetSpacingNote(datasetSpacing: number | null, p: Pick<Preset, 'targetSpacing'>): string | null {
  if (datasetSpacing === null || Math.abs(datasetSpacing - p.targetSpacing) < 1e-6) return null;
  return `the dataset suggests ${datasetSpacing} mm; the grid stays the preset's ${p.targetSpacing} mm (use --spacing to change it)`;
}
