// Per-channel reductions over fixed chunks of rows of x[rows, C] (channel_sums, bn_stats, bn_grad_sums):
// invocation i reduces channel i % C over chunk i / C. The host sets the chunk size independently of any tiling,
// so the order of additions is fixed.
struct ChannelChunk {
  c: u32,
  chunk: u32,
  // rows [r0, r1) of the chunk
  r0: u32,
  r1: u32,
  // false past the last chunk: the invocation has nothing to do
  valid: bool,
}

fn channelChunk(i: u32, rows: u32, C: u32, chunkRows: u32) -> ChannelChunk {
  let chunks = (rows + chunkRows - 1u) / chunkRows;
  let chunk = i / C;
  let r0 = chunk * chunkRows;
  return ChannelChunk(i % C, chunk, r0, min(rows, r0 + chunkRows), i < chunks * C);
}
