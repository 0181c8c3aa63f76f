// Class index of the largest of each row of K logits (the label map of a segmentation), stored as f32.
// Ties go to the lowest index, as the wasm argmax does.
struct P { rows: u32, K: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> labels: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.rows) { return; }
  let base = i * u.K;
  var best = 0u;
  var mx = z[base];
  for (var k = 1u; k < u.K; k++) {
    let v = z[base + k];
    if (v > mx) { mx = v; best = k; }
  }
  labels[i] = f32(best);
}
