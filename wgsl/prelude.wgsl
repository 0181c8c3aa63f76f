// Index helpers of every declared kernel (src/runtime/wgsl-kernel.ts puts this file after the generated header).

// The flat index of an invocation of a 1-D kernel of 256 threads per workgroup: the runtime spreads a grid
// longer than the per-dimension limit over x and y.
fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}

// The image, row, column and channel of flat index i in an NHWC tensor of H × W × C per image.
struct Nhwc { b: u32, h: u32, w: u32, c: u32 }

fn nhwc(i: u32, H: u32, W: u32, C: u32) -> Nhwc {
  let c = i % C;
  var t = i / C;
  let w = t % W;
  t = t / W;
  return Nhwc(t / H, t % H, w, c);
}
