// Fine-tuning augmentation (wasm) against simple expectations: identities, exact flips and quarter turns,
// shifts by a constant flow, soft labels that still sum to one, determinism.
import { type TestCase, assert, assertClose } from '../harness.ts';
import { augmentBatch, drawAffine } from '../../src/train/augment.ts';
import { Arena, preprocessModule } from '../../src/data/preprocess.ts';
import { Rng } from '../../src/util/random.ts';

async function warp(img: Float32Array, S: number, t: number[], nearest: boolean): Promise<Float32Array> {
  const m = (await preprocessModule()) as any;
  const a = new Arena(m),
    src = a.alloc(4 * S * S),
    dst = a.alloc(4 * S * S);
  a.commit();
  a.f32(src, S * S).set(img);
  m.affineWarp(src, dst, S, S, 1, t[0], t[1], t[2], t[3], t[4], t[5], nearest ? 1 : 0);
  return a.f32(dst, S * S).slice();
}

export const augmentCases: TestCase[] = [
  {
    name: 'augment (wasm): affine identity, flip and quarter turn are exact; constant flow shifts; cubic grid of a constant is constant',
    async run() {
      const S = 9,
        rng = new Rng(3);
      const img = Float32Array.from({ length: S * S }, () => rng.next() + 0.1);
      assertClose('identity', await warp(img, S, [1, 0, 0, 0, 1, 0], false), img, 1e-7);
      const c = (S - 1) / 2;
      const flip = await warp(img, S, [-1, 0, 2 * c, 0, 1, 0], true);
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) assert(flip[x + S * y] === img[S - 1 - x + S * y], `flip at ${x},${y}`);
      const rot = await warp(img, S, [0, -1, 2 * c, 1, 0, 0], false); // src = (c − (y − c), x)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          assert(Math.abs(rot[x + S * y] - img[S - 1 - y + S * x]) < 1e-6, `quarter turn at ${x},${y}`);
        }
      const m = (await preprocessModule()) as any;
      const a = new Arena(m),
        g = a.alloc(36),
        up = a.alloc(4 * S * S),
        cols = a.alloc(m.cubicColumnsBytes(S)),
        src = a.alloc(4 * S * S),
        dst = a.alloc(4 * S * S);
      const fx = a.alloc(4 * S * S),
        fy = a.alloc(4 * S * S);
      a.commit();
      a.f32(g, 9).fill(2.5);
      m.upsampleCubic(g, 3, 3, up, S, S, cols);
      assertClose('cubic upsampling of a constant grid', a.f32(up, S * S), new Float32Array(S * S).fill(2.5), 1e-6);
      a.f32(fx, S * S).fill(2);
      a.f32(fy, S * S).fill(-1);
      a.f32(src, S * S).set(img);
      m.flowWarp(src, dst, S, S, 1, fx, fy);
      const out = a.f32(dst, S * S);
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const sx = Math.min(Math.max(x - 2, 0), S - 1),
            sy = Math.min(Math.max(y + 1, 0), S - 1);
          assert(Math.abs(out[x + S * y] - img[sx + S * sy]) < 1e-6, `flow shift at ${x},${y}`);
        }
    },
  },
  {
    name: 'augment (wasm): a batch keeps soft labels summing to one, is seeded, and changes the slices',
    async run() {
      const B = 6,
        S = 24,
        K = 4,
        rng = new Rng(1);
      const x = new Float32Array(B * S * S),
        l = new Float32Array(B * S * S);
      for (let i = 0; i < x.length; i++) {
        const p = i % (S * S),
          r = Math.hypot((p % S) - 11.5, Math.floor(p / S) - 11.5);
        l[i] = r < 4 ? 3 : r < 6 ? 2 : r < 8 ? 1 : 0;
        x[i] = [0.2, 0.8, 0.4, 0.9][l[i]] + 0.05 * rng.normal();
      }
      const a = await augmentBatch(x, l, B, S, K, new Rng(42), { affine: true, elastic: true, sigma: 5, mixup: 0.1 });
      const b = await augmentBatch(x, l, B, S, K, new Rng(42), { affine: true, elastic: true, sigma: 5, mixup: 0.1 });
      assertClose('same seed, same batch', a.x, b.x, 1e-12);
      assertClose('same seed, same labels', a.y, b.y, 1e-12);
      for (let p = 0; p < B * S * S; p++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.y[p * K + k];
        assert(Math.abs(s - 1) < 1e-5, `pixel ${p}: label weights sum to ${s}`);
      }
      let diff = 0;
      for (let i = 0; i < x.length; i++) diff += Math.abs(a.x[i] - x[i]);
      assert(diff > 1, 'augmentation changed nothing');
      const counts = [0, 0, 0, 0, 0];
      const r = new Rng(7);
      for (let i = 0; i < 1000; i++) counts[drawAffine(r, S, S) === null ? 4 : 0]++;
      assert(
        counts[4] > 300 && counts[4] < 560,
        `about 2/5 + 1/10 + 1/40 of slices keep the identity: ${counts[4]}/1000`,
      );
    },
  },
  {
    name: 'augment (wasm): cubic upsampling equals its per-term formula bit for bit, at several grid and output shapes',
    async run() {
      // the formula as first written: 16 terms (wy·wx)·g in row-major order, each weight and mirrored index formed
      // for its term; JS numbers are the same float64 arithmetic, so the kernel must agree in every bit
      const cubic = (t: number) => {
        const a = Math.abs(t);
        if (a <= 1) return (1.5 * a - 2.5) * a * a + 1;
        if (a < 2) return ((-0.5 * a + 2.5) * a - 4) * a + 2;
        return 0;
      };
      const reflect = (i: number, n: number) => {
        if (n === 1) return 0;
        const j = (((i % (2 * n)) + 2 * n) % (2 * n)) | 0;
        return j < n ? j : 2 * n - 1 - j;
      };
      const reference = (g: Float32Array, gw: number, gh: number, nx: number, ny: number) => {
        const out = new Float32Array(nx * ny),
          scx = gw / nx,
          scy = gh / ny;
        for (let y = 0; y < ny; y++) {
          const gy = (y + 0.5) * scy - 0.5,
            y0 = Math.floor(gy);
          for (let x = 0; x < nx; x++) {
            const gx = (x + 0.5) * scx - 0.5,
              x0 = Math.floor(gx);
            let v = 0;
            for (let j = -1; j <= 2; j++) {
              const wy = cubic(gy - (y0 + j)),
                row = reflect(y0 + j, gh) * gw;
              for (let i = -1; i <= 2; i++) v += wy * cubic(gx - (x0 + i)) * g[row + reflect(x0 + i, gw)];
            }
            out[x + nx * y] = v;
          }
        }
        return out;
      };
      const m = (await preprocessModule()) as any,
        rng = new Rng(11);
      for (const [gw, gh, nx, ny] of [
        [3, 3, 128, 128],
        [3, 3, 9, 9],
        [3, 2, 17, 5],
        [1, 4, 6, 33],
        [5, 3, 4, 3],
      ]) {
        const a = new Arena(m),
          g = a.alloc(4 * gw * gh),
          up = a.alloc(4 * nx * ny),
          cols = a.alloc(m.cubicColumnsBytes(nx));
        a.commit();
        a.f32(up, nx * ny).fill(Number.NaN); // poisoned: every output must be written
        const grid = Float32Array.from({ length: gw * gh }, () => rng.normal() * 5);
        a.f32(g, gw * gh).set(grid);
        m.upsampleCubic(g, gw, gh, up, nx, ny, cols);
        const got = a.f32(up, nx * ny),
          want = reference(grid, gw, gh, nx, ny);
        for (let p = 0; p < nx * ny; p++)
          assert(Object.is(got[p], want[p]), `${gw}×${gh} → ${nx}×${ny} at ${p}: ${got[p]} against ${want[p]}`);
      }
    },
  },
  {
    name: 'augment (wasm): the flow warp equals its float32 formula bit for bit, for 1, 4 and 6 channels, clamped flows included',
    async run() {
      // per channel (a·(1−fx) + b·fx)·(1−fy) + (d·(1−fx) + e·fx)·fy, every operation rounded to float32 as the
      // kernel's (four channels at a time in SIMD lanes, the rest one by one)
      const f = Math.fround;
      const reference = (src: Float32Array, nx: number, ny: number, C: number, dx: Float32Array, dy: Float32Array) => {
        const out = new Float32Array(nx * ny * C);
        for (let y = 0; y < ny; y++)
          for (let x = 0; x < nx; x++) {
            const p = x + nx * y;
            const sx = Math.min(Math.max(x - dx[p], 0), nx - 1),
              sy = Math.min(Math.max(y - dy[p], 0), ny - 1);
            const x0 = Math.min(Math.floor(sx), Math.max(nx - 2, 0)),
              y0 = Math.min(Math.floor(sy), Math.max(ny - 2, 0));
            const x1 = x0 + 1 < nx ? x0 + 1 : x0,
              y1 = y0 + 1 < ny ? y0 + 1 : y0;
            const fx = f(sx - x0),
              fy = f(sy - y0),
              gx = f(1 - fx),
              gy = f(1 - fy);
            for (let c = 0; c < C; c++) {
              const a = src[(x0 + nx * y0) * C + c],
                b = src[(x1 + nx * y0) * C + c];
              const d = src[(x0 + nx * y1) * C + c],
                e = src[(x1 + nx * y1) * C + c];
              const top = f(f(a * gx) + f(b * fx)),
                bottom = f(f(d * gx) + f(e * fx));
              out[p * C + c] = f(f(top * gy) + f(bottom * fy));
            }
          }
        return out;
      };
      const m = (await preprocessModule()) as any,
        rng = new Rng(5);
      for (const [nx, ny, C] of [
        [17, 9, 1],
        [16, 16, 4],
        [7, 11, 6],
      ]) {
        const a = new Arena(m),
          src = a.alloc(4 * nx * ny * C),
          dst = a.alloc(4 * nx * ny * C),
          fx = a.alloc(4 * nx * ny),
          fy = a.alloc(4 * nx * ny);
        a.commit();
        const img = Float32Array.from({ length: nx * ny * C }, () => rng.normal()),
          dx = Float32Array.from({ length: nx * ny }, () => rng.normal() * 6),
          dy = Float32Array.from({ length: nx * ny }, () => rng.normal() * 6);
        a.f32(src, nx * ny * C).set(img);
        a.f32(fx, nx * ny).set(dx);
        a.f32(fy, nx * ny).set(dy);
        a.f32(dst, nx * ny * C).fill(Number.NaN);
        m.flowWarp(src, dst, nx, ny, C, fx, fy);
        const got = a.f32(dst, nx * ny * C),
          want = reference(img, nx, ny, C, dx, dy);
        for (let i = 0; i < got.length; i++)
          assert(Object.is(got[i], want[i]), `${nx}×${ny}×${C} at ${i}: ${got[i]} against ${want[i]}`);
      }
    },
  },
];
