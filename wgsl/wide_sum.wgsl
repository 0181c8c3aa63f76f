// Shared by reduce_chunks.wgsl and bn_finalize.wgsl (the kernel registry prepends it): the fixed-order sum of
// partial[c·len + i] over the chunks c by one 256-lane workgroup. Lane t adds chunks t, t + 256, … in order,
// then a fixed binary tree adds the lanes. Every lane of the workgroup must call it (it holds barriers).
var<workgroup> lanes: array<f32, 256>;

fn wideSum(i: u32, len: u32, chunks: u32, lid: u32) -> f32 {
  var s = 0.0;
  if (i < len) {
    for (var c = lid; c < chunks; c += 256u) { s += partial[c * len + i]; }
  }
  lanes[lid] = s;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) { lanes[lid] += lanes[lid + w]; }
    workgroupBarrier();
  }
  return lanes[0];
}
