// The gradient of an element-wise op of the op table (src/ops/table.ts) from its output: dx = grad(y, dy).
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  dx[i] = grad(y[i], dy[i]);
}
