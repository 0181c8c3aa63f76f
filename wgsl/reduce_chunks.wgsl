// out[i] = scale · sum_{c < chunks} partial[c·len + i], summed in increasing c (a fixed order).
struct P { len: u32, chunks: u32, scale: f32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.len) { return; }
  var s = 0.0;
  for (var c = 0u; c < u.chunks; c++) { s += partial[c * u.len + i]; }
  out[i] = s * u.scale;
}
