// A split-K conv forward's chunk partials [chunks, M·N] summed in increasing chunk order (reduce_chunks.wgsl's
// order for few chunks), then batch norm with the moving statistics and ReLU (bn_infer.wgsl): the epilogue of
// conv2d_forward.wgsl's bnRelu when K was split. Channel of output i: i % N.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg);
  if (i >= u.len) { return; }
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += partial[c * u.len + i]; }
  let n = i % u.N;
  let v = bnInfer(s, rm[n], rv[n], gamma[n], beta[n], u.eps);
  out[i] = select(v, 0.0, v < 0.0);
}
