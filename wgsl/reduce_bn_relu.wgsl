// A split-K conv forward's chunk partials [chunks, M·N] summed in increasing chunk order (reduce_chunks.wgsl's
// order for few chunks), then batch norm with the moving statistics and ReLU (bn_infer.wgsl): the epilogue of
// conv2d_forward.wgsl's bnRelu when K was split. Channel of output i: i % N.
struct P { len: u32, chunks: u32, N: u32, eps: f32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> rm: array<f32>;
@group(0) @binding(3) var<storage, read> rv: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.len) { return; }
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += partial[c * u.len + i]; }
  let n = i % u.N;
  let v = bnInfer(s, rm[n], rv[n], gamma[n], beta[n], u.eps);
  out[i] = select(v, 0.0, v < 0.0);
}
