// dx[j] = dy of the window that contains j, if j was that window's maximum; else 0 (one window per input).
struct P { n: u32, H: u32, W: u32, C: u32, OH: u32, OW: u32 }
@group(0) @binding(0) var<uniform> u: P;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> arg: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.n) { return; }
  let c = i % u.C;
  var t = i / u.C;
  let iw = t % u.W;
  t = t / u.W;
  let ih = t % u.H;
  let b = t / u.H;
  let o = ((b * u.OH + ih / 2u) * u.OW + iw / 2u) * u.C + c;
  dx[i] = select(0.0, dy[o], arg[o] == i);
}
