// The kernel registry: each kernel's WGSL text (embedded by the build from wgsl/, the same text in every
// runtime) with its named uniforms and storage bindings (wgsl-kernel.ts generates the header from them).
// GEMM kernels are their op files (loaders, store) composed with the shared tiled core in gemm.wgsl.

import { type KernelDecl, kernel } from './wgsl-kernel.ts';
import prelude from '../../wgsl/prelude.wgsl';
import unary from '../../wgsl/unary.wgsl';
import unary_grad from '../../wgsl/unary_grad.wgsl';
import gemm from '../../wgsl/gemm.wgsl';
import gemm_store from '../../wgsl/gemm_store.wgsl';
import gemm_cols from '../../wgsl/gemm_cols.wgsl';
import conv_pixels from '../../wgsl/conv_pixels.wgsl';
import accumulate from '../../wgsl/accumulate.wgsl';
import adam from '../../wgsl/adam.wgsl';
import adam4 from '../../wgsl/adam4.wgsl';
import adam_update from '../../wgsl/adam_update.wgsl';
import bn_apply from '../../wgsl/bn_apply.wgsl';
import bn_infer from '../../wgsl/bn_infer.wgsl';
import reduce_bn_relu from '../../wgsl/reduce_bn_relu.wgsl';
import bn_backward from '../../wgsl/bn_backward.wgsl';
import bn_finalize from '../../wgsl/bn_finalize.wgsl';
import bn_grad_sums from '../../wgsl/bn_grad_sums.wgsl';
import bn_stats from '../../wgsl/bn_stats.wgsl';
import ce_backward from '../../wgsl/ce_backward.wgsl';
import ce_loss from '../../wgsl/ce_loss.wgsl';
import ce_sums from '../../wgsl/ce_sums.wgsl';
import channel_sums from '../../wgsl/channel_sums.wgsl';
import channel_chunks from '../../wgsl/channel_chunks.wgsl';
import conv2d_direct from '../../wgsl/conv2d_direct.wgsl';
import conv2d_forward from '../../wgsl/conv2d_forward.wgsl';
import conv2d_input_grad from '../../wgsl/conv2d_input_grad.wgsl';
import conv2d_weight_grad from '../../wgsl/conv2d_weight_grad.wgsl';
import conv2d_weight_grad_direct from '../../wgsl/conv2d_weight_grad_direct.wgsl';
import copy_channels from '../../wgsl/copy_channels.wgsl';
import dice_backward from '../../wgsl/dice_backward.wgsl';
import dice_loss from '../../wgsl/dice_loss.wgsl';
import dice_sums from '../../wgsl/dice_sums.wgsl';
import fill from '../../wgsl/fill.wgsl';
import argmax from '../../wgsl/argmax.wgsl';
import argmax_u8 from '../../wgsl/argmax_u8.wgsl';
import argmax_row from '../../wgsl/argmax_row.wgsl';
import contrastive_loss from '../../wgsl/contrastive_loss.wgsl';
import contrastive_backward from '../../wgsl/contrastive_backward.wgsl';
import region_gather from '../../wgsl/region_gather.wgsl';
import mse_sums from '../../wgsl/mse_sums.wgsl';
import mse_backward from '../../wgsl/mse_backward.wgsl';
import region_scatter from '../../wgsl/region_scatter.wgsl';
import l2norm from '../../wgsl/l2norm.wgsl';
import l2norm_backward from '../../wgsl/l2norm_backward.wgsl';
import matmul from '../../wgsl/matmul.wgsl';
import maxpool from '../../wgsl/maxpool.wgsl';
import maxpool_backward from '../../wgsl/maxpool_backward.wgsl';
import reduce_chunks from '../../wgsl/reduce_chunks.wgsl';
import wide_sum from '../../wgsl/wide_sum.wgsl';
import softmax from '../../wgsl/softmax.wgsl';
import upsample from '../../wgsl/upsample.wgsl';
import upsample_backward from '../../wgsl/upsample_backward.wgsl';

/** The tiled GEMM core's uniforms, first in every GEMM kernel's block (gemm.wgsl reads them by name). */
const GEMM_UNIFORMS = { M: 'u32', N: 'u32', K: 'u32', kChunk: 'u32' } as const;
/** Adam's step scalars (adam_update.wgsl reads them by name), first in adam's and adam4's blocks. */
const ADAM_UNIFORMS = { lrT: 'f32', beta1: 'f32', beta2: 'f32', eps: 'f32' } as const;

/** Declared kernels: convolution and GEMM, Adam, element-wise and layout ops, losses, batch norm and reductions. */
export const WGSL = {
  // GEMMs: the op's files supply the loaders and the store that the tiled core (gemm.wgsl, with main) calls
  conv2d_forward: kernel('conv2d_forward', {
    wgsl: gemm,
    uses: [bn_infer, conv_pixels, conv2d_forward, gemm_cols],
    uniforms: {
      ...GEMM_UNIFORMS,
      H: 'u32',
      W: 'u32',
      Cin: 'u32',
      KW: 'u32',
      padT: 'u32',
      padL: 'u32',
      hasBias: 'u32',
      eps: 'f32',
    },
    bindings: { x: 'read', w: 'read', bias: 'read', y: 'rw', rm: 'read', rv: 'read', gamma: 'read', beta: 'read' },
  }),
  conv2d_input_grad: kernel('conv2d_input_grad', {
    wgsl: gemm,
    uses: [conv_pixels, conv2d_input_grad],
    uniforms: { ...GEMM_UNIFORMS, H: 'u32', W: 'u32', Cout: 'u32', KW: 'u32', padT: 'u32', padL: 'u32' },
    bindings: { dout: 'read', w: 'read', dx: 'rw' },
  }),
  conv2d_weight_grad: kernel('conv2d_weight_grad', {
    wgsl: gemm,
    uses: [conv2d_weight_grad, gemm_cols, gemm_store],
    uniforms: { ...GEMM_UNIFORMS, H: 'u32', W: 'u32', Cin: 'u32', KW: 'u32', padT: 'u32', padL: 'u32' },
    bindings: { x: 'read', dout: 'read', out: 'rw' },
  }),
  matmul: kernel('matmul', {
    wgsl: gemm,
    uses: [matmul, gemm_cols, gemm_store],
    uniforms: GEMM_UNIFORMS,
    bindings: { a: 'read', b: 'read', out: 'rw' },
  }),
  // direct convolutions (thin layers, CPU adapters)
  conv2d_direct: kernel('conv2d_direct', {
    wgsl: conv2d_direct,
    workgroupSize: 64,
    uniforms: {
      n: 'u32',
      M: 'u32',
      H: 'u32',
      W: 'u32',
      Cred: 'u32',
      Cout: 'u32',
      KH: 'u32',
      KW: 'u32',
      padT: 'u32',
      padL: 'u32',
      hasBias: 'u32',
    },
    bindings: { x: 'read', w: 'read', bias: 'read', y: 'rw' },
  }),
  conv2d_weight_grad_direct: kernel('conv2d_weight_grad_direct', {
    wgsl: conv2d_weight_grad_direct,
    workgroupSize: 64,
    uniforms: {
      groups: 'u32',
      rows: 'u32',
      kChunk: 'u32',
      H: 'u32',
      W: 'u32',
      Cin: 'u32',
      Cout: 'u32',
      KW: 'u32',
      padT: 'u32',
      padL: 'u32',
      MN: 'u32',
    },
    bindings: { x: 'read', dout: 'read', out: 'rw' },
  }),
  // Adam: one parameter tensor per dispatch, or four (16 storage bindings) where the device allows
  adam: kernel('adam', {
    wgsl: adam,
    uses: [adam_update],
    uniforms: { ...ADAM_UNIFORMS, n: 'u32' },
    bindings: { g: 'read', p: 'rw', m: 'rw', v: 'rw' },
  }),
  adam4: kernel('adam4', {
    wgsl: adam4,
    uses: [adam_update],
    uniforms: { ...ADAM_UNIFORMS, n0: 'u32', n1: 'u32', n2: 'u32', n3: 'u32' },
    bindings: {
      g0: 'read',
      p0: 'rw',
      m0: 'rw',
      v0: 'rw',
      g1: 'read',
      p1: 'rw',
      m1: 'rw',
      v1: 'rw',
      g2: 'read',
      p2: 'rw',
      m2: 'rw',
      v2: 'rw',
      g3: 'read',
      p3: 'rw',
      m3: 'rw',
      v3: 'rw',
    },
  }),
  accumulate: kernel('accumulate', { wgsl: accumulate, uniforms: { n: 'u32' }, bindings: { g: 'read', acc: 'rw' } }),
  fill: kernel('fill', { wgsl: fill, uniforms: { n: 'u32', value: 'f32' }, bindings: { out: 'rw' } }),
  mse_backward: kernel('mse_backward', {
    wgsl: mse_backward,
    uniforms: { n: 'u32' },
    bindings: { y: 'read', t: 'read', dloss: 'read', dy: 'rw' },
  }),
  upsample: kernel('upsample', {
    wgsl: upsample,
    uniforms: { n: 'u32', H: 'u32', W: 'u32', C: 'u32' },
    bindings: { x: 'read', y: 'rw' },
  }),
  upsample_backward: kernel('upsample_backward', {
    wgsl: upsample_backward,
    uniforms: { n: 'u32', H: 'u32', W: 'u32', C: 'u32' },
    bindings: { dy: 'read', dx: 'rw' },
  }),
  maxpool: kernel('maxpool', {
    wgsl: maxpool,
    uniforms: { n: 'u32', H: 'u32', W: 'u32', C: 'u32', OH: 'u32', OW: 'u32' },
    bindings: { x: 'read', y: 'rw', arg: 'rw:u32' },
  }),
  maxpool_backward: kernel('maxpool_backward', {
    wgsl: maxpool_backward,
    uniforms: { n: 'u32', H: 'u32', W: 'u32', C: 'u32', OH: 'u32', OW: 'u32' },
    bindings: { dy: 'read', arg: 'read:u32', dx: 'rw' },
  }),
  copy_channels: kernel('copy_channels', {
    wgsl: copy_channels,
    uniforms: { n: 'u32', C: 'u32', srcC: 'u32', srcOff: 'u32', dstC: 'u32', dstOff: 'u32' },
    bindings: { src: 'read', dst: 'rw' },
  }),
  region_gather: kernel('region_gather', {
    wgsl: region_gather,
    uniforms: { total: 'u32', P: 'u32', R: 'u32', H: 'u32', W: 'u32', C: 'u32' },
    bindings: { x: 'read', positions: 'read', out: 'rw' },
  }),
  region_scatter: kernel('region_scatter', {
    wgsl: region_scatter,
    uniforms: { total: 'u32', P: 'u32', R: 'u32', H: 'u32', W: 'u32', C: 'u32' },
    bindings: { dout: 'read', positions: 'read', dx: 'rw' },
  }),
  // losses, softmax, argmax, L2 normalisation
  softmax: kernel('softmax', { wgsl: softmax, uniforms: { rows: 'u32', K: 'u32' }, bindings: { z: 'read', p: 'rw' } }),
  argmax: kernel('argmax', {
    wgsl: argmax,
    uses: [argmax_row],
    uniforms: { rows: 'u32', K: 'u32' },
    bindings: { z: 'read', labels: 'rw' },
  }),
  argmax_u8: kernel('argmax_u8', {
    wgsl: argmax_u8,
    uses: [argmax_row],
    uniforms: { rows: 'u32', K: 'u32' },
    bindings: { z: 'read', labels: 'rw:u32' },
  }),
  l2norm: kernel('l2norm', {
    wgsl: l2norm,
    uniforms: { rows: 'u32', D: 'u32' },
    bindings: { x: 'read', y: 'rw', norms: 'rw' },
  }),
  l2norm_backward: kernel('l2norm_backward', {
    wgsl: l2norm_backward,
    uniforms: { rows: 'u32', D: 'u32' },
    bindings: { y: 'read', norms: 'read', dy: 'read', dx: 'rw' },
  }),
  mse_sums: kernel('mse_sums', {
    wgsl: mse_sums,
    uniforms: { n: 'u32', chunk: 'u32' },
    bindings: { y: 'read', t: 'read', partial: 'rw' },
  }),
  ce_sums: kernel('ce_sums', {
    wgsl: ce_sums,
    uniforms: { rows: 'u32', K: 'u32', chunkRows: 'u32', outOffset: 'u32' },
    bindings: { z: 'read', y: 'read', wk: 'read', partial: 'rw' },
  }),
  ce_loss: kernel('ce_loss', {
    wgsl: ce_loss,
    uniforms: { chunks: 'u32', rows: 'f32' },
    bindings: { partial: 'read', loss: 'rw' },
  }),
  ce_backward: kernel('ce_backward', {
    wgsl: ce_backward,
    uniforms: { rows: 'u32', K: 'u32', invRows: 'f32' },
    bindings: { p: 'read', y: 'read', wk: 'read', dloss: 'read', dz: 'rw' },
  }),
  dice_sums: kernel('dice_sums', {
    wgsl: dice_sums,
    uniforms: { B: 'u32', HW: 'u32', K: 'u32', chunkRows: 'u32', outOffset: 'u32' },
    bindings: { p: 'read', y: 'read', partial: 'rw' },
  }),
  dice_loss: kernel('dice_loss', {
    wgsl: dice_loss,
    uniforms: { B: 'u32', K: 'u32', chunks: 'u32', eps: 'f32' },
    bindings: { partial: 'read', stats: 'rw', loss: 'rw' },
  }),
  dice_backward: kernel('dice_backward', {
    wgsl: dice_backward,
    uniforms: { rows: 'u32', HW: 'u32', K: 'u32', invBK: 'f32', statsOffset: 'u32' },
    bindings: { p: 'read', y: 'read', stats: 'read', dloss: 'read', dz: 'rw' },
  }),
  contrastive_loss: kernel('contrastive_loss', {
    wgsl: contrastive_loss,
    uniforms: { T: 'u32', N: 'u32', invTau: 'f32' },
    bindings: { s: 'read', pairs: 'read', mask: 'read', loss: 'rw', lse: 'rw' },
  }),
  contrastive_backward: kernel('contrastive_backward', {
    wgsl: contrastive_backward,
    uniforms: { N: 'u32', invTau: 'f32', scale: 'f32' },
    bindings: { s: 'read', pairs: 'read', mask: 'read', lse: 'read', rows: 'read', dloss: 'read', ds: 'rw' },
  }),
  // batch norm and per-channel reductions
  channel_sums: kernel('channel_sums', {
    wgsl: channel_sums,
    uses: [channel_chunks],
    uniforms: { rows: 'u32', C: 'u32', chunkRows: 'u32', outOffset: 'u32' },
    bindings: { x: 'read', partial: 'rw' },
  }),
  bn_stats: kernel('bn_stats', {
    wgsl: bn_stats,
    uses: [channel_chunks],
    uniforms: { rows: 'u32', C: 'u32', chunkRows: 'u32', outOffset: 'u32' },
    bindings: { x: 'read', partial: 'rw' },
  }),
  bn_finalize: kernel('bn_finalize', {
    wgsl: bn_finalize,
    uses: [wide_sum],
    uniforms: { C: 'u32', chunks: 'u32', count: 'f32', scale: 'f32', eps: 'f32', decay: 'f32', updateRunning: 'u32' },
    bindings: { partial: 'read', mean: 'rw', invstd: 'rw', runMean: 'rw', runVar: 'rw' },
  }),
  bn_apply: kernel('bn_apply', {
    wgsl: bn_apply,
    uses: [bn_infer],
    uniforms: { n: 'u32', C: 'u32', eps: 'f32' },
    bindings: { x: 'read', mean: 'read', invstd: 'read', gamma: 'read', beta: 'read', y: 'rw' },
  }),
  bn_grad_sums: kernel('bn_grad_sums', {
    wgsl: bn_grad_sums,
    uses: [channel_chunks],
    uniforms: { rows: 'u32', C: 'u32', chunkRows: 'u32', outOffset: 'u32' },
    bindings: { x: 'read', dy: 'read', z: 'read', mean: 'read', invstd: 'read', partial: 'rw' },
  }),
  bn_backward: kernel('bn_backward', {
    wgsl: bn_backward,
    uniforms: { n: 'u32', C: 'u32', count: 'f32' },
    bindings: { x: 'read', dy: 'read', z: 'read', mean: 'read', invstd: 'read', gamma: 'read', sums: 'read', dx: 'rw' },
  }),
  reduce_chunks: kernel('reduce_chunks', {
    wgsl: reduce_chunks,
    uses: [wide_sum],
    uniforms: { len: 'u32', chunks: 'u32', scale: 'f32' },
    bindings: { partial: 'read', out: 'rw', lo: 'rw', hi: 'rw' },
  }),
  reduce_bn_relu: kernel('reduce_bn_relu', {
    wgsl: reduce_bn_relu,
    uses: [bn_infer],
    uniforms: { len: 'u32', chunks: 'u32', N: 'u32', eps: 'f32' },
    bindings: { partial: 'read', rm: 'read', rv: 'read', gamma: 'read', beta: 'read', out: 'rw' },
  }),
} satisfies Record<string, KernelDecl>;

/** Every WGSL file, for tests that scan the sources (e.g. for atomics). */
export const WGSL_SOURCES: Record<string, string> = {
  prelude,
  unary,
  unary_grad,
  gemm,
  gemm_store,
  gemm_cols,
  conv_pixels,
  wide_sum,
  argmax,
  argmax_u8,
  argmax_row,
  contrastive_loss,
  contrastive_backward,
  region_gather,
  region_scatter,
  mse_sums,
  mse_backward,
  conv2d_direct,
  conv2d_weight_grad_direct,
  accumulate,
  adam,
  adam4,
  adam_update,
  bn_apply,
  bn_infer,
  bn_backward,
  bn_finalize,
  bn_grad_sums,
  bn_stats,
  ce_backward,
  ce_loss,
  ce_sums,
  channel_sums,
  channel_chunks,
  conv2d_forward,
  conv2d_input_grad,
  conv2d_weight_grad,
  copy_channels,
  dice_backward,
  dice_loss,
  dice_sums,
  fill,
  l2norm,
  l2norm_backward,
  matmul,
  maxpool,
  maxpool_backward,
  reduce_chunks,
  reduce_bn_relu,
  softmax,
  upsample,
  upsample_backward,
};
