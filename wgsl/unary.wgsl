// An element-wise op of the op table (src/ops/table.ts): y = op(x), where `fn op` is the entry's expression.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  y[i] = op(x[i]);
}
