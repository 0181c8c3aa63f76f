// A 3-D image or label volume with its geometry. Voxel data are float32 in NIfTI order (i fastest:
// index = i + nx·(j + ny·k)) after scl_slope/scl_inter; label volumes hold integer values.

export type Vec3 = [number, number, number];

export interface Volume {
  /** voxel values, i fastest */
  data: Float32Array;
  /** [nx, ny, nz] */
  dims: Vec3;
  /** voxel size in mm along i, j, k */
  spacing: Vec3;
  /** 4×4 row-major voxel (i, j, k, 1) → world (RAS+, mm) matrix, from the sform (preferred) or the qform */
  affine: number[];
  /** where it came from (file path or name), for error messages */
  source: string;
  /** optional: what the file it was read from said (set by readNifti; writeNifti takes its defaults from it) */
  origin?: VolumeOrigin;
}

/** Facts about the file a volume was read from that the Volume's own fields do not carry. */
export interface VolumeOrigin {
  format: 'nifti1' | 'nifti2';
  /** the stored datatype, e.g. 'int16' (the data were converted to float32 with scl_slope/scl_inter) */
  datatype: string;
  /** the file's sform_code and qform_code (0 unknown, 1 scanner, 2 aligned, 3 Talairach, 4 MNI) */
  sformCode: number;
  qformCode: number;
  /** which transform gave `affine`: the sform, the qform, or pixdim alone (NIfTI method 1) */
  affineFrom: 'sform' | 'qform' | 'pixdim';
  /** volumes in the file: the product of dim[4..7] (1 for a 3-D file). Only frame 0 is read when it is > 1
   *  (e.g. channel 0 of a 4-D multi-modal MSD image). */
  frames: number;
}

export function voxelCount(v: Pick<Volume, 'dims'>): number {
  return v.dims[0] * v.dims[1] * v.dims[2];
}

/** Spacing from an affine: the length of each of its first three columns. */
export function spacingFromAffine(a: number[]): Vec3 {
  const col = (c: number) => Math.hypot(a[c], a[4 + c], a[8 + c]);
  return [col(0), col(1), col(2)];
}

/** World (RAS+, mm) coordinates of voxel (i, j, k) under a 4×4 row-major affine. */
export function voxelToWorld(a: number[], i: number, j: number, k: number): Vec3 {
  return [
    a[0] * i + a[1] * j + a[2] * k + a[3],
    a[4] * i + a[5] * j + a[6] * k + a[7],
    a[8] * i + a[9] * j + a[10] * k + a[11],
  ];
}

/** Product of two 4×4 row-major matrices, a·b. */
export function matMul4(a: number[], b: number[]): number[] {
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let t = 0; t < 4; t++) s += a[4 * r + t] * b[4 * t + c];
      out[4 * r + c] = s;
    }
  return out;
}
