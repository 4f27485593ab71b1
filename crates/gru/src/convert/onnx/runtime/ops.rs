//! The arithmetic ops of the runtime (ONNX semantics, opset 13+):
//!
//! ```text
//! Add/Sub/Mul/Div  c = a ∘ b, numpy broadcasting (shapes aligned right, 1 stretches);
//!                  floats in T, integers in i64 (wrapping; Div truncates, ÷0 is an error)
//! Relu/Tanh/Sigmoid  max(x, 0), tanh x, 1 / (1 + e^-x)             (floats)
//! MatMul           numpy matmul: a [..., M, K] · b [..., K, N], batch dims broadcast,
//!                  a 1-D a is [1, K] and a 1-D b is [K, 1] (the added dim is dropped)
//! Gemm             Y [M, N] = alpha · A' B' + beta · C, A' = transA ? Aᵀ : A (A' is
//!                  [M, K]), B' = transB ? Bᵀ : B ([K, N]), C broadcast to [M, N]
//! Softmax          y = e^(x - max) / Σ e^(x - max) along `axis`
//! LogSoftmax       y = x - max - ln Σ e^(x - max) along `axis`
//! Cast             to float/double (floats are T: to float rounds through f32) or
//!                  int32/int64 (floats truncate toward zero and saturate; to int32 wraps)
//! ```

use gru_core::ops::{matmul as gemm, Matrix};
use gru_core::{DType, Real};

use super::super::proto::{DOUBLE, FLOAT, INT32, INT64};
use super::value::{for_each_index, numel, strides, Data, Value};

/// An elementwise op of two inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

/// An elementwise op of one float input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unary {
    Relu,
    Tanh,
    Sigmoid,
}

/// The numpy broadcast of two shapes.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for (k, o) in out.iter_mut().enumerate() {
        let da = if k + a.len() >= r { a[k + a.len() - r] } else { 1 };
        let db = if k + b.len() >= r { b[k + b.len() - r] } else { 1 };
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        };
    }
    numel(&out)?;
    Ok(out)
}

/// Strides of `shape` seen from the broadcast shape `out` (0 along stretched dims).
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let s = strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len()).map(|k| if k < lead || shape[k - lead] == 1 { 0 } else { s[k - lead] }).collect()
}

/// `f(a[i], b[j])` over the broadcast of the two shapes.
fn zip_broadcast<A: Copy, R>(
    a: &[A],
    ash: &[usize],
    b: &[A],
    bsh: &[usize],
    f: impl Fn(A, A) -> Result<R, String>,
) -> Result<(Vec<R>, Vec<usize>), String> {
    if ash == bsh {
        return Ok((a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect::<Result<_, _>>()?, ash.to_vec()));
    }
    let out = broadcast_shape(ash, bsh)?;
    let (sa, sb) = (broadcast_strides(ash, &out), broadcast_strides(bsh, &out));
    let mut v = Vec::with_capacity(out.iter().product());
    let mut err = None;
    for_each_index(&out, |_, idx| {
        let ia: usize = idx.iter().zip(&sa).map(|(i, s)| i * s).sum();
        let ib: usize = idx.iter().zip(&sb).map(|(i, s)| i * s).sum();
        match f(a[ia], b[ib]) {
            Ok(r) => v.push(r),
            Err(e) => err = err.take().or(Some(e)),
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok((v, out)),
    }
}

/// `a ∘ b` with numpy broadcasting; both floats or both integers.
pub(crate) fn binary<T: Real>(op: Binary, a: &Value<T>, b: &Value<T>) -> Result<Value<T>, String> {
    match (&a.data, &b.data) {
        (Data::Float(x), Data::Float(y)) => {
            let f = |p: T, q: T| {
                Ok(match op {
                    Binary::Add => p + q,
                    Binary::Sub => p - q,
                    Binary::Mul => p * q,
                    Binary::Div => p / q,
                })
            };
            let (v, shape) = zip_broadcast(x, &a.shape, y, &b.shape, f)?;
            Ok(Value::float(shape, v))
        }
        (Data::Int(x), Data::Int(y)) => {
            let f = |p: i64, q: i64| match op {
                Binary::Add => Ok(p.wrapping_add(q)),
                Binary::Sub => Ok(p.wrapping_sub(q)),
                Binary::Mul => Ok(p.wrapping_mul(q)),
                Binary::Div if q == 0 => Err("integer division by zero".to_string()),
                Binary::Div => Ok(p.wrapping_div(q)),
            };
            let (v, shape) = zip_broadcast(x, &a.shape, y, &b.shape, f)?;
            Ok(Value::int(shape, v))
        }
        _ => Err(format!("{op:?} of a {} and a {} tensor (the types must agree)", a.type_name(), b.type_name())),
    }
}

/// An elementwise float op.
pub(crate) fn unary<T: Real>(op: Unary, x: &Value<T>) -> Result<Value<T>, String> {
    let v = x.floats("the input")?;
    let out = match op {
        Unary::Relu => v.iter().map(|&p| if p > T::zero() { p } else { T::zero() }).collect(),
        Unary::Tanh => v.iter().map(|&p| p.tanh()).collect(),
        Unary::Sigmoid => v
            .iter()
            .map(|&p| {
                if p >= T::zero() {
                    T::one() / (T::one() + (-p).exp())
                } else {
                    let e = p.exp();
                    e / (T::one() + e)
                }
            })
            .collect(),
    };
    Ok(Value::float(x.shape.clone(), out))
}

/// numpy matmul of two float tensors (see the module documentation).
pub(crate) fn matmul<T: Real>(a: &Value<T>, b: &Value<T>) -> Result<Value<T>, String> {
    let (av, bv) = (a.floats("A")?, b.floats("B")?);
    if a.rank() == 0 || b.rank() == 0 {
        return Err(format!("MatMul of {:?} and {:?}: scalars are not matrices", a.shape, b.shape));
    }
    let ash = if a.rank() == 1 { vec![1, a.shape[0]] } else { a.shape.clone() };
    let bsh = if b.rank() == 1 { vec![b.shape[0], 1] } else { b.shape.clone() };
    let (m, k) = (ash[ash.len() - 2], ash[ash.len() - 1]);
    let (k2, n) = (bsh[bsh.len() - 2], bsh[bsh.len() - 1]);
    if k != k2 {
        return Err(format!("MatMul of {:?} and {:?}: inner dimensions {k} and {k2} differ", a.shape, b.shape));
    }
    let (abatch, bbatch) = (&ash[..ash.len() - 2], &bsh[..bsh.len() - 2]);
    let batch = broadcast_shape(abatch, bbatch)?;
    let mut out_shape = batch.clone();
    out_shape.extend([m, n]);
    let len = numel(&out_shape)?;
    let (sa, sb) = (broadcast_strides(abatch, &batch), broadcast_strides(bbatch, &batch));
    let mut out = vec![T::zero(); len];
    let mut offsets = Vec::new();
    for_each_index(&batch, |o, idx| {
        let ia: usize = idx.iter().zip(&sa).map(|(i, s)| i * s).sum();
        let ib: usize = idx.iter().zip(&sb).map(|(i, s)| i * s).sum();
        offsets.push((o, ia, ib));
    });
    for (o, ia, ib) in offsets {
        let am = Matrix::new(&av[ia * m * k..(ia + 1) * m * k], m, k);
        let bm = Matrix::new(&bv[ib * k * n..(ib + 1) * k * n], k, n);
        gemm(&mut out[o * m * n..(o + 1) * m * n], false, am, bm);
    }
    if a.rank() == 1 {
        out_shape.remove(out_shape.len() - 2);
    }
    if b.rank() == 1 {
        out_shape.pop();
    }
    Ok(Value::float(out_shape, out))
}

/// The attributes of Gemm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GemmAttrs {
    pub(crate) alpha: f32,
    pub(crate) beta: f32,
    pub(crate) trans_a: bool,
    pub(crate) trans_b: bool,
}

/// `alpha · A' B' + beta · C` (see the module documentation).
pub(crate) fn gemm_op<T: Real>(
    g: GemmAttrs,
    a: &Value<T>,
    b: &Value<T>,
    c: Option<&Value<T>>,
) -> Result<Value<T>, String> {
    let (av, bv) = (a.floats("A")?, b.floats("B")?);
    if a.rank() != 2 || b.rank() != 2 {
        return Err(format!("Gemm needs 2-D A and B, got {:?} and {:?}", a.shape, b.shape));
    }
    let am = Matrix::new(av, a.shape[0], a.shape[1]);
    let bm = Matrix::new(bv, b.shape[0], b.shape[1]);
    let am = if g.trans_a { am.t() } else { am };
    let bm = if g.trans_b { bm.t() } else { bm };
    let (m, n) = (am.rows(), bm.cols());
    if am.cols() != bm.rows() {
        return Err(format!(
            "Gemm of A {:?} (transA {}) and B {:?} (transB {}): inner dimensions {} and {} differ",
            a.shape,
            u8::from(g.trans_a),
            b.shape,
            u8::from(g.trans_b),
            am.cols(),
            bm.rows()
        ));
    }
    let mut out = vec![T::zero(); numel(&[m, n])?];
    gemm(&mut out, false, am, bm);
    let alpha = T::lit(f64::from(g.alpha));
    if g.alpha != 1.0 {
        out.iter_mut().for_each(|v| *v *= alpha);
    }
    let y = Value::float(vec![m, n], out);
    match c {
        None => Ok(y),
        Some(c) => {
            let cv = c.floats("C")?;
            if broadcast_shape(&c.shape, &[m, n])? != [m, n] {
                return Err(format!("Gemm's C {:?} does not broadcast to [M, N] = [{m}, {n}]", c.shape));
            }
            let beta = T::lit(f64::from(g.beta));
            let scaled = Value::float(c.shape.clone(), cv.iter().map(|&v| v * beta).collect());
            binary(Binary::Add, &y, &scaled)
        }
    }
}

/// Softmax (or LogSoftmax when `log`) along `axis` (already normalized).
pub(crate) fn softmax<T: Real>(x: &Value<T>, axis: usize, log: bool) -> Result<Value<T>, String> {
    let v = x.floats("the input")?;
    let outer: usize = x.shape[..axis].iter().product();
    let n = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let mut out = vec![T::zero(); v.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| o * n * inner + j * inner + i;
            let max = (0..n).map(|j| v[at(j)]).fold(T::neg_infinity(), T::max);
            let sum: T = (0..n).map(|j| (v[at(j)] - max).exp()).sum();
            for j in 0..n {
                out[at(j)] = if log { v[at(j)] - max - sum.ln() } else { (v[at(j)] - max).exp() / sum };
            }
        }
    }
    Ok(Value::float(x.shape.clone(), out))
}

/// The `to` types Cast supports.
pub(crate) fn cast_target(to: i64) -> Result<i32, String> {
    match i32::try_from(to) {
        Ok(t @ (FLOAT | DOUBLE | INT32 | INT64)) => Ok(t),
        _ => Err(format!("Cast to data type {to} is not supported (float 1, double 11, int32 6, int64 7 are)")),
    }
}

/// Cast to `to` (one of [`cast_target`]'s types; see the module documentation).
pub(crate) fn cast<T: Real>(x: &Value<T>, to: i32) -> Value<T> {
    let shape = x.shape.clone();
    match (&x.data, to) {
        (Data::Float(v), FLOAT) if T::DTYPE == DType::F64 => {
            Value::float(shape, v.iter().map(|p| T::lit(f64::from(p.widen() as f32))).collect())
        }
        (Data::Float(v), FLOAT | DOUBLE) => Value::float(shape, v.clone()),
        (Data::Int(v), FLOAT) => Value::float(shape, v.iter().map(|&p| T::lit(f64::from(p as f32))).collect()),
        (Data::Int(v), DOUBLE) => Value::float(shape, v.iter().map(|&p| T::lit(p as f64)).collect()),
        (Data::Float(v), INT32) => Value::int(shape, v.iter().map(|p| i64::from(p.widen() as i32)).collect()),
        (Data::Float(v), _) => Value::int(shape, v.iter().map(|p| p.widen() as i64).collect()),
        (Data::Int(v), INT32) => Value::int(shape, v.iter().map(|&p| i64::from(p as i32)).collect()),
        (Data::Int(v), _) => Value::int(shape, v.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(shape: &[usize], v: &[f64]) -> Value<f64> {
        Value::float(shape.to_vec(), v.to_vec())
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shape(&[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
        assert!(broadcast_shape(&[2, 3], &[4, 3]).is_err());
        let a = f(&[2, 1], &[1.0, 2.0]);
        let b = f(&[3], &[10.0, 20.0, 30.0]);
        let c = binary(Binary::Sub, &a, &b).unwrap();
        assert_eq!(c, f(&[2, 3], &[-9.0, -19.0, -29.0, -8.0, -18.0, -28.0]));
        let i = Value::<f64>::int(vec![2], vec![7, -7]);
        assert_eq!(binary(Binary::Div, &i, &Value::int(vec![], vec![2])).unwrap(), Value::int(vec![2], vec![3, -3]));
        assert!(binary(Binary::Div, &i, &Value::int(vec![1], vec![0])).is_err());
        assert!(binary(Binary::Add, &i, &a).is_err());
    }

    #[test]
    fn matmul_broadcasts_batches_and_vectors() {
        // [2, 1, 1, 2] · [3, 2, 1] -> [2, 3, 1, 1]
        let a = f(&[2, 1, 1, 2], &[1.0, 2.0, 3.0, 4.0]);
        let b = f(&[3, 2, 1], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let c = matmul(&a, &b).unwrap();
        assert_eq!(c.shape, vec![2, 3, 1, 1]);
        assert_eq!(c.floats("c").unwrap(), &[1.0, 2.0, 3.0, 3.0, 4.0, 7.0]);
        let v = f(&[2], &[1.0, 1.0]);
        assert_eq!(matmul(&v, &f(&[2, 2], &[1.0, 2.0, 3.0, 4.0])).unwrap(), f(&[2], &[4.0, 6.0]));
        assert_eq!(matmul(&f(&[2, 2], &[1.0, 2.0, 3.0, 4.0]), &v).unwrap(), f(&[2], &[3.0, 7.0]));
        assert!(matmul(&a, &a).is_err());
    }

    #[test]
    fn gemm_transposes_and_scales() {
        let a = f(&[2, 1], &[1.0, 2.0]); // Aᵀ = [1, 2]: M = 1, K = 2
        let b = f(&[3, 2], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]); // Bᵀ: [2, 3]
        let g = GemmAttrs { alpha: 2.0, beta: 0.5, trans_a: true, trans_b: true };
        let y = gemm_op(g, &a, &b, Some(&f(&[1], &[4.0]))).unwrap();
        assert_eq!(y, f(&[1, 3], &[4.0, 6.0, 8.0]));
        assert!(gemm_op(g, &a, &b, Some(&f(&[2], &[4.0, 4.0]))).is_err());
    }

    #[test]
    fn softmax_and_cast() {
        let x = f(&[2, 2], &[0.0, 0.0, 1.0, 1.0]);
        assert_eq!(softmax(&x, 1, false).unwrap(), f(&[2, 2], &[0.5, 0.5, 0.5, 0.5]));
        let y = softmax(&f(&[2], &[0.0, 2.0_f64.ln()]), 0, true).unwrap();
        assert!((y.floats("y").unwrap()[1] - (2.0f64 / 3.0).ln()).abs() < 1e-15);
        let c = cast(&f(&[3], &[-1.7, 2.9, 1e20]), INT32);
        assert_eq!(c, Value::int(vec![3], vec![-1, 2, i64::from(i32::MAX)]));
        assert_eq!(cast(&f(&[1], &[0.1]), FLOAT).floats("c").unwrap()[0], f64::from(0.1f32));
        assert!(cast_target(9).is_err());
    }
}
