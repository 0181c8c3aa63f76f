// Shared by reduce_chunks.wgsl and bn_finalize.wgsl (the kernel registry prepends it): fixed-order sums over
// chunk partials by one 256-lane workgroup. Every lane of the workgroup must call these (they hold barriers).
var<workgroup> lanes: array<f32, 256>;

// Each lane brings its own partial sum s; a fixed binary tree adds the lanes, and every lane gets the total.
fn wideTree(s: f32, lid: u32) -> f32 {
  lanes[lid] = s;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) { lanes[lid] += lanes[lid + w]; }
    workgroupBarrier();
  }
  let total = lanes[0];
  workgroupBarrier(); // every lane has read the total before a next tree writes the lanes again
  return total;
}

// The sum of partial[c·len + i] over the chunks c: lane t adds chunks t, t + 256, … in order, then the tree.
fn wideSum(i: u32, len: u32, chunks: u32, lid: u32) -> f32 {
  var s = 0.0;
  if (i < len) {
    for (var c = lid; c < chunks; c += 256u) { s += partial[c * len + i]; }
  }
  return wideTree(s, lid);
}
