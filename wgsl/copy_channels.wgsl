// Strided channel copy: dst[p·dstC + dstOff + c] = src[p·srcC + srcOff + c] for c < C.
// Concat writes each input into its channel slice; the backward pass reads the slices out again.
struct P { n: u32, C: u32, srcC: u32, srcOff: u32, dstC: u32, dstOff: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let c = i % u.C;
  let p = i / u.C;
  dst[p * u.dstC + u.dstOff + c] = src[p * u.srcC + u.srcOff + c];
}
