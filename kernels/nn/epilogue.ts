// The epilogue of the convolution kernels (convGemm, winogradConv): what happens to an output sum before it is
// stored. Not re-exported by index.ts: these are the kernels' own helpers, not the module's exports.

import { at } from './util';

// The epilogue's inputs, read by convGemm and winogradConv from a block in memory (so every thread's instance
// sees them): a per-column bias that starts every sum, and optionally batch norm with fixed statistics and a
// ReLU, with the arithmetic of bnApply (so fused and unfused give the same bits).
export let epBias: usize = 0;
let epMean: usize = 0;
let epInvstd: usize = 0;
let epGamma: usize = 0;
let epBeta: usize = 0;
let epRelu: bool = false;

/** ep: six i32 words bias, mean, invstd, gamma, beta (addresses, 0 for none; BN needs all four), relu (0/1). */
export function loadEpilogue(ep: usize): void {
  epBias = ep == 0 ? 0 : <usize>load<i32>(ep);
  epMean = ep == 0 ? 0 : <usize>load<i32>(ep, 4);
  epInvstd = ep == 0 ? 0 : <usize>load<i32>(ep, 8);
  epGamma = ep == 0 ? 0 : <usize>load<i32>(ep, 12);
  epBeta = ep == 0 ? 0 : <usize>load<i32>(ep, 16);
  epRelu = ep == 0 ? false : load<i32>(ep, 20) != 0;
}

@inline export function finish(acc: v128, n: i32): v128 {
  let v = acc;
  if (epMean != 0) {
    v = f32x4.mul(f32x4.sub(v, v128.load(at(epMean, n))), v128.load(at(epInvstd, n)));
    v = f32x4.add(f32x4.mul(v, v128.load(at(epGamma, n))), v128.load(at(epBeta, n)));
  }
  if (epRelu) v = f32x4.max(v, f32x4.splat(0));
  return v;
}

/** Store the lanes of v that fall below column N (n: the first lane's column). */
@inline export function storeCols(p: usize, v: v128, n: i32, N: i32): void {
  const left = N - n;
  if (left >= 4) { v128.store(p, v); return; }
  if (left > 0) store<f32>(p, f32x4.extract_lane(v, 0));
  if (left > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (left > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

