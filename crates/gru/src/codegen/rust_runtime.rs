//! The Rust helpers every generated no_std module holds: the f64 math that `core` lacks
//! without `std` (exp, ln, ln_1p, tanh, sqrt; accurate to a few f64 ulps, far below the
//! f32 results' rounding), the product, the GRU cell, a sweep, fully connected, softmax.

/// The helpers' source (a `mod rt` inside the generated module).
pub const HELPERS: &str = r#"
/// The helpers of the generated model (no `std`, no `alloc`).
#[allow(dead_code)]
mod rt {
    /// f64 math without `std`: e^x by Cody-Waite reduction x = k·ln2 + r, |r| <= ln2/2, and
    /// the Taylor series of e^r to r^13 (error < 1e-17); ln by x = m·2^e, m in [√½, √2),
    /// ln m = 2·atanh((m-1)/(m+1)) to the 21st power; tanh = (e^2x - 1) / (e^2x + 1);
    /// sqrt by Newton's iteration. Results are rounded to f32 by their callers.
    pub mod math {
        use core::f64::consts::{LN_2 as LN2, LOG2_E, SQRT_2 as SQRT2};
        /// ln 2 in two parts (Cody-Waite): LN2_HI + LN2_LO.
        const LN2_HI: f64 = 6.93147180369123816490e-01;
        const LN2_LO: f64 = 1.90821492927058770002e-10;

        pub fn fabs(x: f64) -> f64 {
            f64::from_bits(x.to_bits() & !(1u64 << 63))
        }
        /// As `f64::max`: the other value when one is NaN.
        pub fn fmax(x: f64, y: f64) -> f64 {
            if x > y || y.is_nan() { x } else { y }
        }
        pub fn fmin(x: f64, y: f64) -> f64 {
            if x < y || y.is_nan() { x } else { y }
        }
        fn pow2(k: i64) -> f64 {
            f64::from_bits(((k + 1023) as u64) << 52)
        }
        pub fn exp(x: f64) -> f64 {
            if x.is_nan() {
                return x;
            }
            if x > 709.782712893384 {
                return f64::INFINITY;
            }
            if x < -745.2 {
                return 0.0;
            }
            let t = x * LOG2_E;
            let k = if t >= 0.0 { (t + 0.5) as i64 } else { (t - 0.5) as i64 };
            let kf = k as f64;
            let r = (x - kf * LN2_HI) - kf * LN2_LO;
            let mut p = 1.0;
            let mut n = 13;
            while n > 0 {
                p = 1.0 + p * r / (n as f64);
                n -= 1;
            }
            if k > 1023 {
                p * pow2(1023) * pow2(k - 1023)
            } else if k < -1022 {
                p * pow2(k + 1000) * pow2(-1000)
            } else {
                p * pow2(k)
            }
        }
        pub fn ln(x: f64) -> f64 {
            if x.is_nan() || x < 0.0 {
                return f64::NAN;
            }
            if x == 0.0 {
                return f64::NEG_INFINITY;
            }
            if x == f64::INFINITY {
                return x;
            }
            let (mut bits, mut e) = (x.to_bits(), 0i64);
            if (bits >> 52) & 0x7ff == 0 {
                bits = (x * pow2(54)).to_bits();
                e = -54;
            }
            e += ((bits >> 52) & 0x7ff) as i64 - 1023;
            let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
            if m > SQRT2 {
                m *= 0.5;
                e += 1;
            }
            let s = (m - 1.0) / (m + 1.0);
            let s2 = s * s;
            let mut sum = 0.0;
            let mut n = 21;
            while n > 1 {
                sum = (sum + 1.0 / (n as f64)) * s2;
                n -= 2;
            }
            (e as f64) * LN2 + 2.0 * s * (1.0 + sum)
        }
        pub fn log1p(x: f64) -> f64 {
            if fabs(x) < 1e-5 {
                x - x * x / 2.0 + x * x * x / 3.0
            } else {
                ln(1.0 + x)
            }
        }
        pub fn tanh(x: f64) -> f64 {
            if x.is_nan() {
                return x;
            }
            if fabs(x) > 22.0 {
                return if x > 0.0 { 1.0 } else { -1.0 };
            }
            if fabs(x) < 1e-5 {
                return x - x * x * x / 3.0;
            }
            let e = exp(2.0 * x);
            (e - 1.0) / (e + 1.0)
        }
        pub fn sqrt(x: f64) -> f64 {
            if x.is_nan() || x < 0.0 {
                return f64::NAN;
            }
            if x == 0.0 || x == f64::INFINITY {
                return x;
            }
            let mut y = f64::from_bits((x.to_bits() >> 1) + 0x1ff8_0000_0000_0000);
            for _ in 0..8 {
                y = 0.5 * (y + x / y);
            }
            y
        }
    }

    /// One GRU layer and direction: weights transposed (column-major), wt `[In, 3H]` = Wᵀ,
    /// rt `[H, 3H]` = Rᵀ, columns grouped by gate r, z, n; b = `[b_r + b'_r | b_z + b'_z | b_n]`;
    /// rec_n = b'_n (recurrent-bias-after-multiplication).
    pub struct Block {
        pub input: usize,
        pub hidden: usize,
        pub wt: &'static [f32],
        pub rt: &'static [f32],
        pub b: &'static [f32],
        pub rec_n: Option<&'static [f32]>,
    }

    /// The options of a GRU layer: before-multiplication, softsign (else tanh),
    /// hard-sigmoid `(alpha, beta)` (else sigmoid), clip.
    pub struct Options {
        pub before: bool,
        pub softsign: bool,
        pub hard: Option<(f32, f32)>,
        pub clip: Option<f32>,
    }

    /// `out[j] = Σ_k m[k·stride + j] · v[k]` for `j < out.len()` (m: a transposed matrix),
    /// each sum in k order, four k at a time (as the C code).
    pub fn product(m: &[f32], v: &[f32], stride: usize, out: &mut [f32]) {
        for o in out.iter_mut() {
            *o = 0.0;
        }
        let n = out.len();
        let col = |k: usize| &m[k * stride..k * stride + n];
        let mut k = 0;
        while k + 4 <= v.len() {
            let (v0, v1, v2, v3) = (v[k], v[k + 1], v[k + 2], v[k + 3]);
            let cols = col(k).iter().zip(col(k + 1)).zip(col(k + 2)).zip(col(k + 3));
            for (o, (((&a, &b), &c), &d)) in out.iter_mut().zip(cols) {
                *o = (((*o + a * v0) + b * v1) + c * v2) + d * v3;
            }
            k += 4;
        }
        while k < v.len() {
            let vk = v[k];
            for (o, &w) in out.iter_mut().zip(col(k)) {
                *o += w * vk;
            }
            k += 1;
        }
    }

    fn clip(o: &Options, a: f32) -> f32 {
        match o.clip {
            Some(c) => if a < -c { -c } else if a > c { c } else { a },
            None => a,
        }
    }

    /// σ_g(clip(a)): sigmoid, or hard-sigmoid clamp(alpha·x + beta, 0, 1).
    fn gate(o: &Options, a: f32) -> f32 {
        let x = clip(o, a);
        match o.hard {
            Some((alpha, beta)) => {
                let u = alpha * x + beta;
                if u < 0.0 { 0.0 } else if u > 1.0 { 1.0 } else { u }
            }
            None => (1.0 / (1.0 + math::exp(-(x as f64)))) as f32,
        }
    }

    /// σ_s(clip(a)): tanh, or softsign x / (1 + |x|).
    fn state(o: &Options, a: f32) -> f32 {
        let x = clip(o, a);
        if o.softsign {
            x / (1.0 + if x < 0.0 { -x } else { x })
        } else {
            math::tanh(x as f64) as f32
        }
    }

    /// One step, h updated in place, scratch s of 7H (see the module's equations).
    pub fn cell(blk: &Block, o: &Options, x: &[f32], h: &mut [f32], s: &mut [f32]) {
        let (hid, g) = (blk.hidden, 3 * blk.hidden);
        let (gx, rest) = s.split_at_mut(g);
        let (gh, rest) = rest.split_at_mut(g);
        let rh = &mut rest[..hid];
        product(blk.wt, &x[..blk.input], g, gx);
        for (a, &b) in gx.iter_mut().zip(blk.b) {
            *a += b;
        }
        product(blk.rt, h, g, &mut gh[..if o.before { 2 * hid } else { g }]);
        for j in 0..2 * hid {
            gx[j] = gate(o, gx[j] + gh[j]);
        }
        if o.before {
            for j in 0..hid {
                rh[j] = gx[j] * h[j];
            }
            product(&blk.rt[2 * hid..], rh, g, &mut gh[2 * hid..]);
            for j in 0..hid {
                gx[2 * hid + j] = state(o, gx[2 * hid + j] + gh[2 * hid + j]);
            }
        } else {
            for j in 0..hid {
                let op = gh[2 * hid + j] + blk.rec_n.map_or(0.0, |b| b[j]);
                gx[2 * hid + j] = state(o, gx[2 * hid + j] + gx[j] * op);
            }
        }
        for j in 0..hid {
            let (z, n) = (gx[hid + j], gx[2 * hid + j]);
            h[j] = n + z * (h[j] - n);
        }
    }

    /// One layer and direction over `steps` rows `stride` apart, forward or backward in
    /// time; out row t, columns `[col, col + H)`, gets h after reading x_t.
    #[allow(clippy::too_many_arguments)]
    pub fn sweep(
        blk: &Block,
        o: &Options,
        x: &[f32],
        out: &mut [f32],
        steps: usize,
        stride: usize,
        col: usize,
        backward: bool,
        h: &mut [f32],
        s: &mut [f32],
    ) {
        for i in 0..steps {
            let t = if backward { steps - 1 - i } else { i };
            cell(blk, o, &x[t * stride..], h, s);
            out[t * stride + col..t * stride + col + blk.hidden].copy_from_slice(h);
        }
    }

    /// y = W x + b (wt: Wᵀ `[in, out]`).
    pub fn dense(wt: &[f32], b: &[f32], x: &[f32], y: &mut [f32]) {
        let n = b.len();
        product(wt, &x[..wt.len() / n], n, &mut y[..n]);
        for (o, &v) in y.iter_mut().zip(b) {
            *o += v;
        }
    }

    /// p_k = e^{z_k - max z} / Σ_j e^{z_j - max z}.
    pub fn softmax(z: &[f32], p: &mut [f32]) {
        let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        let mut sum = 0.0f32;
        for (q, &v) in p.iter_mut().zip(z) {
            *q = math::exp((v - max) as f64) as f32;
            sum += *q;
        }
        for q in p.iter_mut() {
            *q /= sum;
        }
    }
}
"#;
