// Shared helpers of the nn kernels.

/** Byte address of float i of the array at p. */
@inline export function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}
