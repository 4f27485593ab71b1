//! The C helpers a generated `model.c` holds (static, so that several generated models
//! link into one program; only those the model uses, since `-Wall -Werror` refuses an
//! unused static function): the product, the GRU cell, a sweep over a sequence, fully
//! connected, softmax, a copy. `@_` stands for the prefix.

/// Which helpers a model uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Needs {
    pub gru: bool,
    pub sweep: bool,
    pub dense: bool,
    pub softmax: bool,
}

/// The helpers `needs` names, with the prefix `prefix`.
pub fn helpers(prefix: &str, needs: Needs) -> String {
    let mut out = String::new();
    let parts = [
        (needs.gru, GRU_TYPES),
        (needs.gru || needs.dense, PRODUCT),
        (needs.gru, CELL),
        (needs.sweep, SWEEP),
        (needs.dense, DENSE),
        (needs.softmax, SOFTMAX),
        (true, COPY),
    ];
    for (used, text) in parts {
        if used {
            out.push_str(text);
        }
    }
    out.replace("@_", &format!("{prefix}_"))
}

const GRU_TYPES: &str = r#"/* One GRU layer and direction. Weights are stored transposed (column-major), so that
 * every product is a sum over k in order: wt [In, 3H] = Wᵀ, rt [H, 3H] = Rᵀ, columns
 * grouped by gate r, z, n. b = [b_r + b'_r | b_z + b'_z | b_n] (3H); rec_n = b'_n (H) in
 * recurrent-bias-after-multiplication, else 0. */
typedef struct {
    int in, hid;
    const float* wt;
    const float* rt;
    const float* b;
    const float* rec_n;
} @_block;

/* The options of a GRU layer: reset-gate mode (before = 1: before-multiplication),
 * σ_s (softsign = 1, else tanh), σ_g (hard = 1: clamp(alpha·x + beta, 0, 1), else
 * sigmoid), clip (has_clip = 1: every pre-activation clamped to [-clip, clip]). */
typedef struct {
    int before, softsign, hard, has_clip;
    float alpha, beta, clip;
} @_gru_options;

"#;

const PRODUCT: &str = r#"/* out[j] = Σ_k m[k·stride + j] · v[k] for j < n_out (m: a transposed matrix), each sum in
 * k order: ((0 + m0 v0) + m1 v1) + ..., four k at a time, so that out is read and written
 * a quarter as often; the j loops are plain, for the compiler to vectorize. */
static void @_product(const float* restrict m, const float* restrict v, int n_in, int n_out, int stride,
                      float* restrict out)
{
    int j, k;
    for (j = 0; j < n_out; ++j) out[j] = 0.0f;
    for (k = 0; k + 4 <= n_in; k += 4) {
        const float v0 = v[k], v1 = v[k + 1], v2 = v[k + 2], v3 = v[k + 3];
        const float* restrict c0 = m + (long)k * stride;
        const float* restrict c1 = c0 + stride;
        const float* restrict c2 = c1 + stride;
        const float* restrict c3 = c2 + stride;
        for (j = 0; j < n_out; ++j) out[j] = (((out[j] + c0[j] * v0) + c1[j] * v1) + c2[j] * v2) + c3[j] * v3;
    }
    for (; k < n_in; ++k) {
        const float vk = v[k];
        const float* restrict col = m + (long)k * stride;
        for (j = 0; j < n_out; ++j) out[j] += col[j] * vk;
    }
}

"#;

const CELL: &str = r#"static float @_clip(const @_gru_options* o, float a)
{
    if (!o->has_clip) return a;
    return a < -o->clip ? -o->clip : (a > o->clip ? o->clip : a);
}

/* σ_g(clip(a)): sigmoid 1 / (1 + e^-x), or hard-sigmoid clamp(alpha·x + beta, 0, 1). */
static float @_sigma_g(const @_gru_options* o, float a)
{
    const float x = @_clip(o, a);
    if (o->hard) {
        const float u = o->alpha * x + o->beta;
        return u < 0.0f ? 0.0f : (u > 1.0f ? 1.0f : u);
    }
    return 1.0f / (1.0f + expf(-x));
}

/* σ_s(clip(a)): tanh(x), or softsign x / (1 + |x|). */
static float @_sigma_s(const @_gru_options* o, float a)
{
    const float x = @_clip(o, a);
    return o->softsign ? x / (1.0f + fabsf(x)) : tanhf(x);
}

/* One step of one layer and direction, h (H) updated in place, scratch s (7H):
 *   GX = W x + b,  GH = R h                       (after modes: all 3H rows of GH)
 *   r = σ_g(GX_r + GH_r),  z = σ_g(GX_z + GH_z)
 *   after modes:  n = σ_s(GX_n + r ⊙ (GH_n + b'_n))
 *   before:       n = σ_s(GX_n + R_n (r ⊙ h))
 *   h' = n + z ⊙ (h − n) = (1 − z) ⊙ n + z ⊙ h */
static void @_cell(const @_block* blk, const @_gru_options* o, const float* x, float* h, float* s)
{
    const int H = blk->hid, G = 3 * blk->hid;
    float* gx = s;
    float* gh = s + G;
    float* rh = s + 2 * G;
    int j;
    @_product(blk->wt, x, blk->in, G, G, gx);
    for (j = 0; j < G; ++j) gx[j] += blk->b[j];
    @_product(blk->rt, h, H, o->before ? 2 * H : G, G, gh);
    for (j = 0; j < 2 * H; ++j) gx[j] = @_sigma_g(o, gx[j] + gh[j]); /* r, then z, in place of GX */
    if (o->before) {
        for (j = 0; j < H; ++j) rh[j] = gx[j] * h[j];
        @_product(blk->rt + 2 * H, rh, H, H, G, gh + 2 * H);
        for (j = 0; j < H; ++j) gx[2 * H + j] = @_sigma_s(o, gx[2 * H + j] + gh[2 * H + j]);
    } else {
        for (j = 0; j < H; ++j) {
            const float op = gh[2 * H + j] + (blk->rec_n ? blk->rec_n[j] : 0.0f);
            gx[2 * H + j] = @_sigma_s(o, gx[2 * H + j] + gx[j] * op);
        }
    }
    for (j = 0; j < H; ++j) {
        const float z = gx[H + j], n = gx[2 * H + j];
        h[j] = n + z * (h[j] - n);
    }
}

"#;

const SWEEP: &str = r#"/* One layer and direction over T frames (rows `stride` floats apart): from h, forward or
 * backward in time; out row t, columns [col, col + H), gets h after reading x_t. */
static void @_sweep(const @_block* blk, const @_gru_options* o, const float* x, float* out, int T, int stride,
                    int col, int backward, float* h, float* s)
{
    int i, j;
    for (i = 0; i < T; ++i) {
        const int t = backward ? T - 1 - i : i;
        @_cell(blk, o, x + (long)t * stride, h, s);
        for (j = 0; j < blk->hid; ++j) out[(long)t * stride + col + j] = h[j];
    }
}

"#;

const DENSE: &str = r#"/* y = W x + b (wt: Wᵀ [in, out]). */
static void @_dense(const float* wt, const float* b, const float* x, int n_in, int n_out, float* y)
{
    int j;
    @_product(wt, x, n_in, n_out, n_out, y);
    for (j = 0; j < n_out; ++j) y[j] += b[j];
}

"#;

const SOFTMAX: &str = r#"/* p_k = e^{z_k - max z} / Σ_j e^{z_j - max z}. */
static void @_softmax(const float* z, int n, float* p)
{
    float max = -INFINITY, sum = 0.0f;
    int k;
    for (k = 0; k < n; ++k) max = z[k] > max ? z[k] : max;
    for (k = 0; k < n; ++k) {
        p[k] = expf(z[k] - max);
        sum += p[k];
    }
    for (k = 0; k < n; ++k) p[k] = p[k] / sum;
}

"#;

const COPY: &str = r#"static void @_copy(const float* from, int n, float* to)
{
    int k;
    for (k = 0; k < n; ++k) to[k] = from[k];
}

"#;
