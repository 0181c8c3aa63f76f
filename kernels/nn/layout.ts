// Accumulation, pooling, upsampling, channel concat/slice, region gather/scatter, Adam. No reductions
// across elements except the gradients of pooling, upsampling and regions, each summed in a fixed order.
// Tasks (t0…t1) are blocks of BLOCK elements or rows, as each function says.

import { at } from './util';

const BLOCK: i32 = 4096;

/** Fill n floats with v. */
export function fill(p: usize, n: i32, v: f32): void {
  let i = 0;
  const s = f32x4.splat(v);
  for (; i + 4 <= n; i += 4) v128.store(at(p, i), s);
  for (; i < n; i++) store<f32>(at(p, i), v);
}

/** acc += g. */
export function accumulate(acc: usize, g: usize, n: i32, t0: i32, t1: i32): void {
  const end = min(n, t1 * BLOCK);
  let i = t0 * BLOCK;
  for (; i + 4 <= end; i += 4) v128.store(at(acc, i), f32x4.add(v128.load(at(acc, i)), v128.load(at(g, i))));
  for (; i < end; i++) store<f32>(at(acc, i), load<f32>(at(acc, i)) + load<f32>(at(g, i)));
}

/** One Adam step (TF 1.x form: lrT folds in the bias corrections) on n parameters. */
export function adam(p: usize, g: usize, m: usize, v: usize, n: i32, lrT: f32, beta1: f32, beta2: f32, eps: f32,
  t0: i32, t1: i32): void {
  const end = min(n, t1 * BLOCK);
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(<f32>1 - beta1), b2 = f32x4.splat(beta2);
  const c2 = f32x4.splat(<f32>1 - beta2), lr = f32x4.splat(lrT), e = f32x4.splat(eps);
  let i = t0 * BLOCK;
  for (; i + 4 <= end; i += 4) {
    const gi = v128.load(at(g, i));
    const mi = f32x4.add(f32x4.mul(b1, v128.load(at(m, i))), f32x4.mul(c1, gi));
    const vi = f32x4.add(f32x4.mul(b2, v128.load(at(v, i))), f32x4.mul(c2, f32x4.mul(gi, gi)));
    v128.store(at(m, i), mi);
    v128.store(at(v, i), vi);
    const step = f32x4.div(f32x4.mul(lr, mi), f32x4.add(f32x4.sqrt(vi), e));
    v128.store(at(p, i), f32x4.sub(v128.load(at(p, i)), step));
  }
  for (; i < end; i++) {
    const gi = load<f32>(at(g, i));
    const mi = beta1 * load<f32>(at(m, i)) + (<f32>1 - beta1) * gi;
    const vi = beta2 * load<f32>(at(v, i)) + (<f32>1 - beta2) * (gi * gi);
    store<f32>(at(m, i), mi);
    store<f32>(at(v, i), vi);
    store<f32>(at(p, i), load<f32>(at(p, i)) - (lrT * mi) / (Mathf.sqrt(vi) + eps));
  }
}

/**
 * 2×2 max-pool, stride 2, TF SAME (odd sizes: the last window is clipped); arg holds the flat input index
 * of each maximum as f32 (the first of equal values, in window order). Tasks: output rows (b, oh).
 */
export function maxPool2(x: usize, H: i32, W: i32, C: i32, y: usize, arg: usize, t0: i32, t1: i32): void {
  const OH = (H + 1) >> 1, OW = (W + 1) >> 1;
  for (let row = t0; row < t1; row++) {
    const b = row / OH, oh = row % OH;
    for (let ow = 0; ow < OW; ow++) {
      // the window's pixels in order (dy, dx); clipped ones repeat the first, which never wins a strict >
      const j0 = ((b * H + 2 * oh) * W + 2 * ow) * C;
      const j1 = 2 * ow + 1 < W ? j0 + C : j0, j2 = 2 * oh + 1 < H ? j0 + W * C : j0;
      const j3 = j1 != j0 && j2 != j0 ? j2 + C : j0;
      const o = ((b * OH + oh) * OW + ow) * C;
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const lanes = i32x4(0, 1, 2, 3);
        let best = v128.load(at(x, j0 + c)), bi = i32x4.add(i32x4.splat(j0 + c), lanes);
        let v = v128.load(at(x, j1 + c)), better = f32x4.gt(v, best);
        best = v128.bitselect(v, best, better);
        bi = v128.bitselect(i32x4.add(i32x4.splat(j1 + c), lanes), bi, better);
        v = v128.load(at(x, j2 + c));
        better = f32x4.gt(v, best);
        best = v128.bitselect(v, best, better);
        bi = v128.bitselect(i32x4.add(i32x4.splat(j2 + c), lanes), bi, better);
        v = v128.load(at(x, j3 + c));
        better = f32x4.gt(v, best);
        best = v128.bitselect(v, best, better);
        bi = v128.bitselect(i32x4.add(i32x4.splat(j3 + c), lanes), bi, better);
        v128.store(at(y, o + c), best);
        v128.store(at(arg, o + c), f32x4.convert_i32x4_s(bi));
      }
      for (; c < C; c++) {
        let best = load<f32>(at(x, j0 + c)), bi = j0 + c;
        if (load<f32>(at(x, j1 + c)) > best) { best = load<f32>(at(x, j1 + c)); bi = j1 + c; }
        if (load<f32>(at(x, j2 + c)) > best) { best = load<f32>(at(x, j2 + c)); bi = j2 + c; }
        if (load<f32>(at(x, j3 + c)) > best) { best = load<f32>(at(x, j3 + c)); bi = j3 + c; }
        store<f32>(at(y, o + c), best);
        store<f32>(at(arg, o + c), <f32>bi);
      }
    }
  }
}

/**
 * The gradient of maxPool2: dx zeroed, then dx[arg[o]] += dy[o]. Tasks: output rows (b, oh); a row's windows cover
 * input rows 2·oh and 2·oh + 1 of image b, which no other task touches, and each dx element gets one term at most.
 */
export function maxPool2Backward(dy: usize, arg: usize, H: i32, W: i32, C: i32, dx: usize, t0: i32, t1: i32): void {
  const OH = (H + 1) >> 1, OW = (W + 1) >> 1;
  for (let row = t0; row < t1; row++) {
    const b = row / OH, h0 = 2 * (row % OH), h1 = min(h0 + 2, H);
    memory.fill(at(dx, (b * H + h0) * W * C), 0, <usize>((h1 - h0) * W * C) << 2);
    for (let o = row * OW * C, end = o + OW * C; o < end; o++) {
      const j = <i32>load<f32>(at(arg, o));
      store<f32>(at(dx, j), load<f32>(at(dx, j)) + load<f32>(at(dy, o)));
    }
  }
}

/** Nearest-neighbour ×2 upsampling of [B, H, W, C]. Tasks: output rows (b, h2). */
export function upsample2(x: usize, H: i32, W: i32, C: i32, y: usize, t0: i32, t1: i32): void {
  const rowBytes = <usize>C << 2;
  for (let row = t0; row < t1; row++) {
    const b = row / (2 * H), h = (row % (2 * H)) >> 1;
    for (let q = 0; q < 2 * W; q++) {
      memory.copy(at(y, (row * 2 * W + q) * C), at(x, ((b * H + h) * W + (q >> 1)) * C), rowBytes);
    }
  }
}

/** dx[b, h, q] = dy[2h, 2q] + dy[2h, 2q+1] + dy[2h+1, 2q] + dy[2h+1, 2q+1] (that order). Tasks: rows (b, h). */
export function upsample2Backward(dy: usize, H: i32, W: i32, C: i32, dx: usize, t0: i32, t1: i32): void {
  for (let row = t0; row < t1; row++) {
    const b = row / H, h = row % H;
    for (let q = 0; q < W; q++) {
      const r0 = ((b * 2 * H + 2 * h) * 2 * W + 2 * q) * C, r1 = r0 + 2 * W * C, o = (row * W + q) * C;
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const s = f32x4.add(f32x4.add(v128.load(at(dy, r0 + c)), v128.load(at(dy, r0 + C + c))),
          v128.load(at(dy, r1 + c)));
        v128.store(at(dx, o + c), f32x4.add(s, v128.load(at(dy, r1 + C + c))));
      }
      for (; c < C; c++) {
        const s = load<f32>(at(dy, r0 + c)) + load<f32>(at(dy, r0 + C + c)) + load<f32>(at(dy, r1 + c));
        store<f32>(at(dx, o + c), s + load<f32>(at(dy, r1 + C + c)));
      }
    }
  }
}

/** out[p] = a[p] ++ b[p] along channels, for P pixels. Tasks: blocks of `per` pixels. */
export function concat(a: usize, ca: i32, b: usize, cb: i32, P: i32, per: i32, out: usize, t0: i32, t1: i32): void {
  const c = ca + cb;
  for (let p = t0 * per, end = min(P, t1 * per); p < end; p++) {
    memory.copy(at(out, p * c), at(a, p * ca), <usize>ca << 2);
    memory.copy(at(out, p * c + ca), at(b, p * cb), <usize>cb << 2);
  }
}

/** out[p] = t[p, offset…offset+count), for P pixels of C channels. Tasks: blocks of `per` pixels. */
export function sliceChannels(t: usize, C: i32, offset: i32, count: i32, P: i32, per: i32, out: usize, t0: i32,
  t1: i32): void {
  for (let p = t0 * per, end = min(P, t1 * per); p < end; p++) {
    memory.copy(at(out, p * count), at(t, p * C + offset), <usize>count << 2);
  }
}

/** The R×R windows at positions [P, 2] (row, col) of x [B, H, W, C]: [B·P, R·R·C]. */
export function regionGather(x: usize, B: i32, H: i32, W: i32, C: i32, pos: usize, P: i32, R: i32, out: usize): void {
  for (let b = 0; b < B; b++) for (let p = 0; p < P; p++) {
    const y0 = <i32>load<f32>(at(pos, 2 * p)), x0 = <i32>load<f32>(at(pos, 2 * p + 1));
    for (let dy = 0; dy < R; dy++) {
      const src = at(x, ((b * H + y0 + dy) * W + x0) * C), dst = at(out, (((b * P + p) * R + dy) * R) * C);
      memory.copy(dst, src, <usize>(R * C) << 2);
    }
  }
}

/** Gradient of regionGather: dx zeroed, then every window added in order (b, p, dy, dx, c). */
export function regionScatter(dout: usize, B: i32, H: i32, W: i32, C: i32, pos: usize, P: i32, R: i32,
  dx: usize): void {
  memory.fill(dx, 0, <usize>(B * H * W * C) << 2);
  for (let b = 0; b < B; b++) for (let p = 0; p < P; p++) {
    const y0 = <i32>load<f32>(at(pos, 2 * p)), x0 = <i32>load<f32>(at(pos, 2 * p + 1));
    for (let dy = 0; dy < R; dy++) for (let ex = 0; ex < R; ex++) {
      const d = at(dx, ((b * H + y0 + dy) * W + x0 + ex) * C), s = at(dout, (((b * P + p) * R + dy) * R + ex) * C);
      for (let c = 0; c < C; c++) {
        const o = <usize>c << 2;
        store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
      }
    }
  }
}
