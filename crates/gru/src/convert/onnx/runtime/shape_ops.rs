//! The ops that move, select or describe elements (ONNX semantics, opset 13+; negative
//! axes count from the end):
//!
//! ```text
//! Shape            [rank] i64 = x.shape[start..end] (start/end clamped to [0, rank])
//! Gather           data [d0..], indices [i..] -> data[:axis] + indices.shape + data[axis+1:],
//!                  an index k < 0 is k + d_axis
//! Unsqueeze        insert 1s at `axes` (axes of the output)
//! Squeeze          drop the 1s at `axes` (every 1 when no axes are given)
//! Concat           join along `axis`; the other dims must agree
//! Slice            per axis: start/end (< 0: + dim), clamped ([0, dim] for step > 0,
//!                  [-1, dim - 1] for step < 0), elements start, start + step, .. before end
//! Reshape          0 copies the input dim (unless allowzero), -1 is inferred
//! Transpose        out.shape[i] = in.shape[perm[i]] (default perm: reversed)
//! Flatten          [Π d[..axis], Π d[axis..]]
//! ConstantOfShape  a tensor of the given shape filled with `value` (default float 0)
//! ```

use super::value::{dim, for_each_index, norm_axis, numel, strides, Data, Value};
use gru_core::Real;

/// `x.shape[start..end]` as an i64 vector.
pub(crate) fn shape_of<T: Real>(shape: &[usize], start: i64, end: Option<i64>) -> Value<T> {
    let r = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (s, e) = (clamp(start), clamp(end.unwrap_or(r)));
    let dims: Vec<i64> = if s < e { shape[s..e].iter().map(|&d| d as i64).collect() } else { Vec::new() };
    Value::int(vec![dims.len()], dims)
}

pub(crate) fn gather<T: Real>(data: &Value<T>, indices: &Value<T>, axis: i64) -> Result<Value<T>, String> {
    let axis = norm_axis(axis, data.rank(), "axis")?;
    let d = data.shape[axis];
    let idx = indices
        .ints("indices")?
        .iter()
        .map(|&k| {
            let j = if k < 0 { k + d as i64 } else { k };
            usize::try_from(j)
                .ok()
                .filter(|&j| j < d)
                .ok_or_else(|| format!("index {k} is out of range for axis {axis} of size {d}"))
        })
        .collect::<Result<Vec<usize>, String>>()?;
    let outer: usize = data.shape[..axis].iter().product();
    let inner: usize = data.shape[axis + 1..].iter().product();
    let mut shape = data.shape[..axis].to_vec();
    shape.extend(&indices.shape);
    shape.extend(&data.shape[axis + 1..]);
    numel(&shape)?;
    let mut flat = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &j in &idx {
            flat.extend((0..inner).map(|i| (o * d + j) * inner + i));
        }
    }
    Ok(data.select(&flat, shape))
}

/// Sorted, distinct axes of a tensor of `rank`.
fn axes_of(axes: &[i64], rank: usize) -> Result<Vec<usize>, String> {
    let mut v = axes.iter().map(|&a| norm_axis(a, rank, "axis")).collect::<Result<Vec<_>, _>>()?;
    v.sort_unstable();
    if v.windows(2).any(|w| w[0] == w[1]) {
        return Err(format!("axes {axes:?} repeat an axis"));
    }
    Ok(v)
}

pub(crate) fn unsqueeze<T: Real>(x: &Value<T>, axes: &[i64]) -> Result<Value<T>, String> {
    let rank = x.rank() + axes.len();
    let axes = axes_of(axes, rank)?;
    let mut dims = x.shape.iter();
    let shape = (0..rank).map(|k| if axes.contains(&k) { 1 } else { dims.next().copied().unwrap_or(1) }).collect();
    x.reshaped(shape)
}

pub(crate) fn squeeze<T: Real>(x: &Value<T>, axes: Option<&[i64]>) -> Result<Value<T>, String> {
    let drop = match axes {
        None => (0..x.rank()).filter(|&k| x.shape[k] == 1).collect(),
        Some(a) => axes_of(a, x.rank())?,
    };
    if let Some(&k) = drop.iter().find(|&&k| x.shape[k] != 1) {
        return Err(format!("cannot squeeze axis {k} of shape {:?}: its size is not 1", x.shape));
    }
    x.reshaped((0..x.rank()).filter(|k| !drop.contains(k)).map(|k| x.shape[k]).collect())
}

pub(crate) fn concat<T: Real>(xs: &[&Value<T>], axis: i64) -> Result<Value<T>, String> {
    let first = xs.first().ok_or("Concat has no input")?;
    let a = norm_axis(axis, first.rank(), "axis")?;
    let mut shape = first.shape.clone();
    shape[a] = 0;
    for x in xs {
        let same = x.rank() == first.rank() && (0..x.rank()).all(|k| k == a || x.shape[k] == first.shape[k]);
        if !same || x.is_float() != first.is_float() {
            return Err(format!(
                "cannot concatenate a {} {:?} and a {} {:?} along axis {axis}",
                first.type_name(),
                first.shape,
                x.type_name(),
                x.shape
            ));
        }
        shape[a] = shape[a].checked_add(x.shape[a]).ok_or("the concatenation is too large")?;
    }
    numel(&shape)?;
    let outer: usize = shape[..a].iter().product();
    let chunk = |x: &Value<T>| x.shape[a..].iter().product::<usize>();
    let data = match &first.data {
        Data::Float(_) => Data::Float(join(xs, outer, chunk, |x| x.floats("input"))?),
        Data::Int(_) => Data::Int(join(xs, outer, chunk, |x| x.ints("input"))?),
    };
    Ok(Value { shape, data })
}

/// For each outer index, the next chunk of every input in turn.
fn join<'a, T: Real, E: Copy + 'a>(
    xs: &[&'a Value<T>],
    outer: usize,
    chunk: impl Fn(&Value<T>) -> usize,
    get: impl Fn(&'a Value<T>) -> Result<&'a [E], String>,
) -> Result<Vec<E>, String> {
    let parts = xs.iter().map(|x| Ok((get(x)?, chunk(x)))).collect::<Result<Vec<_>, String>>()?;
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
    for o in 0..outer {
        for (v, c) in &parts {
            out.extend_from_slice(&v[o * c..(o + 1) * c]);
        }
    }
    Ok(out)
}

/// Slice (see the module documentation); `axes`/`steps` default to 0.. and 1.
pub(crate) fn slice<T: Real>(
    x: &Value<T>,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Value<T>, String> {
    let n = starts.len();
    let default_axes: Vec<i64> = (0..n as i64).collect();
    let axes = axes.unwrap_or(&default_axes);
    let ones = vec![1; n];
    let steps = steps.unwrap_or(&ones);
    if ends.len() != n || axes.len() != n || steps.len() != n {
        return Err(format!(
            "starts, ends, axes and steps have {n}, {}, {} and {} entries; they must agree",
            ends.len(),
            axes.len(),
            steps.len()
        ));
    }
    axes_of(axes, x.rank())?;
    let r = x.rank();
    let mut first = vec![0i64; r];
    let mut step = vec![1i64; r];
    let mut shape = x.shape.clone();
    for k in 0..n {
        let a = norm_axis(axes[k], r, "axis")?;
        let d = x.shape[a] as i64;
        let s = steps[k];
        if s == 0 {
            return Err(format!("step 0 on axis {a}"));
        }
        let fix = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (b, e) = if s > 0 {
            (fix(starts[k]).clamp(0, d), fix(ends[k]).clamp(0, d))
        } else {
            (fix(starts[k]).clamp(0, (d - 1).max(0)), fix(ends[k]).clamp(-1, d - 1))
        };
        let span = if s > 0 { e - b } else { b - e };
        let sa = i64::try_from(s.unsigned_abs()).unwrap_or(i64::MAX);
        let count = if span <= 0 || d == 0 { 0 } else { 1 + (span - 1) / sa };
        first[a] = b;
        step[a] = s;
        shape[a] = count as usize;
    }
    let total = numel(&shape)?;
    let st = strides(&x.shape);
    let mut idx = Vec::with_capacity(total);
    for_each_index(&shape, |_, i| {
        idx.push(i.iter().enumerate().map(|(a, &j)| (first[a] + j as i64 * step[a]) as usize * st[a]).sum());
    });
    Ok(x.select(&idx, shape))
}

pub(crate) fn reshape<T: Real>(x: &Value<T>, spec: &[i64], allowzero: bool) -> Result<Value<T>, String> {
    let mut infer = None;
    let mut shape = Vec::with_capacity(spec.len());
    for (k, &s) in spec.iter().enumerate() {
        shape.push(match s {
            -1 if infer.is_some() => return Err(format!("shape {spec:?} has more than one -1")),
            -1 => {
                infer = Some(k);
                1
            }
            0 if !allowzero => *x
                .shape
                .get(k)
                .ok_or_else(|| format!("shape {spec:?}: 0 at {k} copies a dim the input {:?} lacks", x.shape))?,
            v => dim(v, "shape entry")?,
        });
    }
    if let Some(k) = infer {
        let known = numel(&shape)?;
        if known == 0 || !x.len().is_multiple_of(known) {
            return Err(format!("cannot reshape {:?} ({} elements) to {spec:?}", x.shape, x.len()));
        }
        shape[k] = x.len() / known;
    }
    x.reshaped(shape).map_err(|_| format!("cannot reshape {:?} ({} elements) to {spec:?}", x.shape, x.len()))
}

pub(crate) fn transpose<T: Real>(x: &Value<T>, perm: Option<&[i64]>) -> Result<Value<T>, String> {
    let r = x.rank();
    let perm: Vec<usize> = match perm {
        None => (0..r).rev().collect(),
        Some(p) => {
            let v: Vec<usize> = p.iter().map(|&a| usize::try_from(a).unwrap_or(usize::MAX)).collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            if sorted != (0..r).collect::<Vec<_>>() {
                return Err(format!("perm {p:?} is not a permutation of the {r} axes of {:?}", x.shape));
            }
            v
        }
    };
    let shape: Vec<usize> = perm.iter().map(|&a| x.shape[a]).collect();
    let st = strides(&x.shape);
    let mut idx = Vec::with_capacity(x.len());
    for_each_index(&shape, |_, i| idx.push(i.iter().zip(&perm).map(|(&j, &a)| j * st[a]).sum()));
    Ok(x.select(&idx, shape))
}

pub(crate) fn flatten<T: Real>(x: &Value<T>, axis: i64) -> Result<Value<T>, String> {
    let r = x.rank() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        return Err(format!("axis {axis} is out of range for rank {r}"));
    }
    let a = a as usize;
    x.reshaped(vec![x.shape[..a].iter().product(), x.shape[a..].iter().product()])
}

/// A tensor of `dims` filled with `fill` (a one-element value).
pub(crate) fn constant_of_shape<T: Real>(dims: &[i64], fill: &Value<T>) -> Result<Value<T>, String> {
    let shape = dims.iter().map(|&d| dim(d, "dimension")).collect::<Result<Vec<_>, _>>()?;
    let n = numel(&shape)?;
    Ok(match &fill.data {
        Data::Float(v) => Value::float(shape, vec![v.first().copied().unwrap_or_else(T::zero); n]),
        Data::Int(v) => Value::int(shape, vec![v.first().copied().unwrap_or(0); n]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(shape: &[usize]) -> Value<f64> {
        let n = shape.iter().product::<usize>();
        Value::float(shape.to_vec(), (0..n).map(|v| v as f64).collect())
    }
    fn vals(v: &Value<f64>) -> Vec<f64> {
        v.floats("v").unwrap().to_vec()
    }

    #[test]
    fn slice_follows_onnx_clamping() {
        let x = r(&[2, 5]);
        let s = slice(&x, &[-1], &[-1000], Some(&[1]), Some(&[-2])).unwrap();
        assert_eq!((s.shape.clone(), vals(&s)), (vec![2, 3], vec![4.0, 2.0, 0.0, 9.0, 7.0, 5.0]));
        let s = slice(&x, &[1, 1], &[i64::MAX, 3], None, None).unwrap();
        assert_eq!((s.shape.clone(), vals(&s)), (vec![1, 2], vec![6.0, 7.0]));
        let s = slice(&x, &[3], &[1], Some(&[-1]), None).unwrap();
        assert_eq!(s.shape, vec![2, 0]);
        assert!(slice(&x, &[0], &[1], Some(&[1]), Some(&[0])).is_err());
        assert!(slice(&x, &[0, 0], &[1, 1], Some(&[1, 1]), None).is_err());
    }

    #[test]
    fn gather_transpose_concat_reshape() {
        let x = r(&[2, 3]);
        let g = gather(&x, &Value::int(vec![], vec![-1]), 1).unwrap();
        assert_eq!((g.shape.clone(), vals(&g)), (vec![2], vec![2.0, 5.0]));
        assert!(gather(&x, &Value::int(vec![1], vec![3]), 1).is_err());
        let t = transpose(&x, None).unwrap();
        assert_eq!((t.shape.clone(), vals(&t)), (vec![3, 2], vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]));
        assert!(transpose(&x, Some(&[0, 0])).is_err());
        let c = concat(&[&x, &r(&[2, 1])], -1).unwrap();
        assert_eq!(vals(&c), vec![0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 5.0, 1.0]);
        assert!(concat(&[&x, &r(&[3, 1])], 1).is_err());
        assert_eq!(reshape(&x, &[0, -1], false).unwrap().shape, vec![2, 3]);
        assert_eq!(reshape(&x, &[-1], false).unwrap().shape, vec![6]);
        assert!(reshape(&x, &[4, -1], false).is_err());
        assert!(reshape(&x, &[-1, -1], false).is_err());
        assert!(reshape(&x, &[5], false).is_err());
        assert!(reshape(&x, &[0, 0, 0], false).is_err());
    }

    #[test]
    fn squeeze_unsqueeze_flatten_shape() {
        let x = r(&[1, 3, 1]);
        assert_eq!(squeeze(&x, None).unwrap().shape, vec![3]);
        assert_eq!(squeeze(&x, Some(&[-1])).unwrap().shape, vec![1, 3]);
        assert!(squeeze(&x, Some(&[1])).is_err());
        assert_eq!(unsqueeze(&x, &[0, -1]).unwrap().shape, vec![1, 1, 3, 1, 1]);
        assert!(unsqueeze(&x, &[0, 0]).is_err());
        assert_eq!(flatten(&r(&[2, 3, 4]), -1).unwrap().shape, vec![6, 4]);
        assert_eq!(flatten(&r(&[2, 3]), 0).unwrap().shape, vec![1, 6]);
        assert_eq!(shape_of::<f64>(&[4, 5, 6], -2, None), Value::int(vec![2], vec![5, 6]));
        assert_eq!(shape_of::<f64>(&[4, 5, 6], 2, Some(1)), Value::int(vec![0], vec![]));
        let z = constant_of_shape(&[2, 0], &Value::<f64>::int(vec![1], vec![7])).unwrap();
        assert_eq!(z.shape, vec![2, 0]);
        assert!(constant_of_shape(&[-1], &Value::<f64>::int(vec![1], vec![7])).is_err());
        assert!(constant_of_shape(&[1 << 40, 1 << 40], &Value::<f64>::int(vec![1], vec![7])).is_err());
    }
}
