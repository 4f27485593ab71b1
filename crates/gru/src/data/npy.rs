//! NumPy data: an `.npz` archive, or a pair of `.npy` files.
//!
//! | array         | shape                  | dtype                 | meaning                          |
//! |---------------|------------------------|-----------------------|----------------------------------|
//! | `x`           | `[N, T, C]` or `[N, T]`| float32 / float64     | N sequences of up to T steps     |
//! | `y`           | `[N]`                  | any integer           | class indices (`>= 0`)           |
//! | `y`           | `[N]` or `[N, R]`      | float32 / float64     | responses (regression)           |
//! | `lengths`     | `[N]` (optional)       | any integer           | steps of each sequence, `0..=T`  |
//! | `class_names` | `[K]` (optional)       | str (`U`) / bytes (`S`) | names of the classes, K > max y |
//!
//! `[N, T]` is univariate (C = 1). Without `lengths`, a sequence ends before its trailing
//! steps whose channels are all NaN (NaN padding at the end); with `lengths`, the steps past
//! `lengths[i]` are ignored whatever they hold, and a length of 0 is an empty sequence
//! (without `lengths`, a sequence of NaN only is an error: give its length 0 to mean an
//! empty one). Any NaN or infinity inside a sequence is an
//! error (no missing values). C and Fortran order are both read. Without `class_names` the
//! classes are named "0", "1", ... up to the largest index.
//!
//! ```python
//! np.savez("train.npz", x=x.astype(np.float32), y=y, lengths=lengths)   # or savez_compressed
//! np.save("x.npy", x); np.save("y.npy", y)                               # for load_npy
//! ```
//!
//! Errors (missing array, wrong dtype or rank, shapes that disagree, truncated or corrupt
//! files) are [`Error::File`] naming the array.

use std::io::{Cursor, Read};
use std::path::Path;

use gru_core::Real;
use npyz::npz::NpzArchive;
use npyz::zip::result::ZipError;
use npyz::{DType, NpyFile, Order, TypeChar};

use super::load::{build, read_file, to_real};
use super::{SequenceDataset, Targets};
use crate::error::{Error, Result};

/// Loads an `.npz` archive with arrays `x`, `y` and optionally `lengths` and `class_names`.
pub fn load_npz<T: Real>(path: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = path.as_ref();
    parse_npz(&read_file(path)?, path)
}

/// Parses the bytes of an `.npz` archive; `source` names it in errors.
pub fn parse_npz<T: Real>(bytes: &[u8], source: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    parse_npz_within(bytes, source.as_ref(), memory_budget())
}

/// [`parse_npz`] with each member's decompressed size bounded by `budget` bytes.
fn parse_npz_within<T: Real>(bytes: &[u8], path: &Path, budget: u64) -> Result<SequenceDataset<T>> {
    let bad = |reason: String| Error::file(path, reason);
    let mut archive =
        NpzArchive::new(Cursor::new(bytes)).map_err(|e| bad(format!("not a readable .npz (zip) archive: {e}")))?;
    let mut member = |name: &str| -> Result<Option<Array>> {
        let mut file = match archive.zip_archive().by_name(&format!("{name}.npy")) {
            Ok(f) => f,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(bad(format!("array `{name}`: {e}"))),
        };
        // Read no more than the archive announces, and refuse an announcement beyond what
        // the memory can hold (a small zip can claim, or expand to, gigabytes).
        let announced = file.size();
        if announced > budget {
            return Err(bad(format!(
                "array `{name}` expands to {announced} bytes, more than the {budget} bytes of memory available"
            )));
        }
        let mut data = Vec::new();
        (&mut file)
            .take(announced + 1)
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("array `{name}` is corrupt: {e}")))?;
        if data.len() as u64 != announced {
            return Err(bad(format!(
                "array `{name}` expands to {} bytes, not the {announced} its archive entry announces",
                data.len()
            )));
        }
        read_array(&data, name).map(Some).map_err(bad)
    };
    let x = member("x")?.ok_or_else(|| bad("the archive has no array `x`".into()))?;
    let y = member("y")?.ok_or_else(|| bad("the archive has no array `y`".into()))?;
    let lengths = member("lengths")?;
    let names = member("class_names")?;
    let (sequences, channels, targets, class_names) = assemble::<T>(x, y, lengths, names).map_err(bad)?;
    build(path, sequences, channels, targets, class_names)
}

/// Loads `x` and `y` from two `.npy` files (NaN padding marks the lengths).
pub fn load_npy<T: Real>(x_path: impl AsRef<Path>, y_path: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let (x_path, y_path) = (x_path.as_ref(), y_path.as_ref());
    let x = read_array(&read_file(x_path)?, "x").map_err(|e| Error::file(x_path, e))?;
    let y = read_array(&read_file(y_path)?, "y").map_err(|e| Error::file(y_path, e))?;
    let (sequences, channels, targets, names) = assemble::<T>(x, y, None, None).map_err(|e| Error::file(x_path, e))?;
    build(x_path, sequences, channels, targets, names)
}

/// Parses `x` and `y` from the bytes of two `.npy` files; `source` names them in errors.
pub fn parse_npy<T: Real>(x: &[u8], y: &[u8], source: impl AsRef<Path>) -> Result<SequenceDataset<T>> {
    let path = source.as_ref();
    let bad = |reason: String| Error::file(path, reason);
    let x = read_array(x, "x").map_err(bad)?;
    let y = read_array(y, "y").map_err(bad)?;
    let (sequences, channels, targets, names) = assemble::<T>(x, y, None, None).map_err(bad)?;
    build(path, sequences, channels, targets, names)
}

/// The values of one array, in C order.
enum Values {
    Float(Vec<f64>),
    Int(Vec<i128>),
    Text(Vec<String>),
}

struct Array {
    shape: Vec<usize>,
    values: Values,
}

type Assembled<T> = (Vec<Vec<T>>, usize, Targets, Vec<String>);

fn assemble<T: Real>(
    x: Array,
    y: Array,
    lengths: Option<Array>,
    names: Option<Array>,
) -> std::result::Result<Assembled<T>, String> {
    let (n, t, c) = match x.shape[..] {
        [n, t, c] => (n, t, c),
        [n, t] => (n, t, 1),
        _ => return Err(format!("array `x` must have shape [N, T, C] or [N, T], found {:?}", x.shape)),
    };
    if n == 0 || t == 0 || c == 0 {
        return Err(format!("array `x` has shape {:?}: no values", x.shape));
    }
    let Values::Float(xv) = x.values else {
        return Err("array `x` must be float32 or float64".into());
    };
    let lengths: Option<Vec<i128>> = match lengths {
        None => None,
        Some(Array { values: Values::Int(v), shape, .. }) if shape == [n] => Some(v),
        Some(a) => return Err(format!("array `lengths` must be integers of shape [{n}], found {}", describe(&a))),
    };
    let mut sequences = Vec::with_capacity(n);
    for (i, chunk) in xv.chunks_exact(t * c).enumerate() {
        // chunk: [T, C] row-major.
        let len = match lengths.as_ref().and_then(|l| l.get(i)) {
            Some(&l) if l >= 0 && l <= t as i128 => l as usize,
            Some(l) => return Err(format!("lengths[{i}] = {l} is outside 0..={t}")),
            None => match chunk.chunks_exact(c).rposition(|step| step.iter().any(|v| !v.is_nan())) {
                Some(p) => p + 1,
                None => {
                    return Err(format!(
                        "x[{i}] has no values (all NaN); to mean an empty sequence give `lengths` with lengths[{i}] = 0"
                    ))
                }
            },
        };
        let mut seq = Vec::with_capacity(len * c);
        for (k, &v) in chunk.iter().take(len * c).enumerate() {
            if !v.is_finite() {
                return Err(format!(
                    "x[{i}] step {}, channel {} is {v} inside the sequence (NaN may only pad the end)",
                    k / c,
                    k % c
                ));
            }
            seq.push(to_real::<T>(v).map_err(|e| format!("x[{i}] step {}, channel {}: {e}", k / c, k % c))?);
        }
        sequences.push(seq);
    }
    if y.shape.first() != Some(&n) {
        return Err(format!("shapes disagree: x has {n} sequences but y has shape {:?}", y.shape));
    }
    let (targets, class_names) = match (y.values, &y.shape[..]) {
        (Values::Int(v), [_]) => {
            let mut classes = Vec::with_capacity(n);
            for (i, &k) in v.iter().enumerate() {
                match usize::try_from(k) {
                    Ok(k) => classes.push(k),
                    Err(_) => return Err(format!("y[{i}] = {k} is not a class index (>= 0)")),
                }
            }
            let count = classes.iter().max().map_or(0, |m| m + 1);
            // Class ids are 0..K-1; K beyond the number of sequences (without names that say
            // so) is not a labelling but a corrupt or mistaken `y` (it would create K names).
            if names.is_none() && count > n {
                return Err(format!(
                    "y holds class {} but there are only {n} sequences: class ids must be 0..K-1 \
                     (or give `class_names`)",
                    count - 1
                ));
            }
            let names = match names {
                None => (0..count).map(|k| k.to_string()).collect(),
                Some(Array { values: Values::Text(names), shape, .. }) if shape.len() == 1 => {
                    if names.len() < count {
                        return Err(format!(
                            "array `class_names` has {} names but y holds class {}",
                            names.len(),
                            count - 1
                        ));
                    }
                    names
                }
                Some(a) => {
                    return Err(format!("array `class_names` must be strings of shape [K], found {}", describe(&a)))
                }
            };
            (Targets::Classes(classes), names)
        }
        (Values::Float(v), [_]) => (Targets::Responses(v.into_iter().map(|r| vec![r]).collect()), Vec::new()),
        (Values::Float(v), [_, r]) if *r > 0 => {
            (Targets::Responses(v.chunks_exact(*r).map(<[f64]>::to_vec).collect()), Vec::new())
        }
        (values, shape) => {
            let a = Array { shape: shape.to_vec(), values };
            return Err(format!(
                "array `y` must be integer classes [N] or float responses [N] / [N, R], found {}",
                describe(&a)
            ));
        }
    };
    if let Targets::Responses(r) = &targets {
        if let Some(i) = r.iter().position(|v| v.iter().any(|x| !x.is_finite())) {
            return Err(format!("y[{i}] is not finite"));
        }
    }
    Ok((sequences, c, targets, class_names))
}

/// Bytes that an array may expand to: the memory available now (`MemAvailable` in
/// `/proc/meminfo`; 4 GiB where that cannot be read).
fn memory_budget() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(4 << 30, |kib| kib * 1024)
}

fn describe(a: &Array) -> String {
    let kind = match a.values {
        Values::Float(_) => "floats",
        Values::Int(_) => "integers",
        Values::Text(_) => "strings",
    };
    format!("{kind} of shape {:?}", a.shape)
}

/// Reads one `.npy` image (`name` for errors): float, integer or string values in C order.
fn read_array(bytes: &[u8], name: &str) -> std::result::Result<Array, String> {
    let shape = precheck(bytes).map_err(|e| format!("array `{name}`: {e}"))?;
    let file = NpyFile::new(bytes).map_err(|e| format!("array `{name}` has a corrupt header: {e}"))?;
    let order = file.order();
    let DType::Plain(ts) = file.dtype() else {
        return Err(format!("array `{name}` has a structured dtype; expected plain numbers"));
    };
    // The data must be exactly what the header describes: fewer bytes are a truncated
    // file, more are trailing bytes (a corrupt or concatenated file), both refused.
    let count = shape.iter().product::<usize>();
    let data_len = bytes.len() - header_end(bytes)?;
    let item = ts.num_bytes().ok_or_else(|| format!("array `{name}` has dtype {ts} of no fixed size"))?;
    match count.checked_mul(item) {
        Some(need) if need == data_len => {}
        Some(need) if need > data_len => {
            return Err(format!(
                "array `{name}` is truncated: shape {shape:?} of {ts} needs {need} bytes, {data_len} follow"
            ))
        }
        Some(need) => {
            return Err(format!(
                "array `{name}` has {} trailing bytes after the {need} bytes of shape {shape:?} of {ts}",
                data_len - need
            ))
        }
        None => return Err(format!("array `{name}`: shape {shape:?} overflows")),
    }
    let io = |e: std::io::Error| format!("array `{name}` is truncated or corrupt: {e}");
    let values = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => Values::Float(file.into_vec::<f32>().map_err(io)?.into_iter().map(f64::from).collect()),
        (TypeChar::Float, 8) => Values::Float(file.into_vec::<f64>().map_err(io)?),
        (TypeChar::Int, 1) => Values::Int(file.into_vec::<i8>().map_err(io)?.into_iter().map(i128::from).collect()),
        (TypeChar::Int, 2) => Values::Int(file.into_vec::<i16>().map_err(io)?.into_iter().map(i128::from).collect()),
        (TypeChar::Int, 4) => Values::Int(file.into_vec::<i32>().map_err(io)?.into_iter().map(i128::from).collect()),
        (TypeChar::Int, 8) => Values::Int(file.into_vec::<i64>().map_err(io)?.into_iter().map(i128::from).collect()),
        (TypeChar::Uint, 1) => Values::Int(file.into_vec::<u8>().map_err(io)?.into_iter().map(i128::from).collect()),
        (TypeChar::Uint, 2) => Values::Int(file.into_vec::<u16>().map_err(io)?.into_iter().map(i128::from).collect()),
        (TypeChar::Uint, 4) => Values::Int(file.into_vec::<u32>().map_err(io)?.into_iter().map(i128::from).collect()),
        (TypeChar::Uint, 8) => Values::Int(file.into_vec::<u64>().map_err(io)?.into_iter().map(i128::from).collect()),
        (TypeChar::UnicodeStr | TypeChar::ByteStr, _) => Values::Text(file.into_vec::<String>().map_err(io)?),
        _ => return Err(format!("array `{name}` has dtype {ts}; expected float32/float64, integers or strings")),
    };
    let values = match order {
        Order::C => values,
        Order::Fortran => match values {
            Values::Float(v) => Values::Float(to_c_order(v, &shape)),
            Values::Int(v) => Values::Int(to_c_order(v, &shape)),
            Values::Text(v) => Values::Text(to_c_order(v, &shape)),
        },
    };
    Ok(Array { shape, values })
}

/// Fortran-order `values` of `shape` in C order.
fn to_c_order<V: Clone>(values: Vec<V>, shape: &[usize]) -> Vec<V> {
    if shape.len() < 2 {
        return values;
    }
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; shape.len()]; // C-order multi-index, last fastest
    for _ in 0..values.len() {
        // Fortran offset: first index fastest.
        let offset = index.iter().zip(shape).rev().fold(0, |acc, (&i, &s)| acc * s + i);
        if let Some(v) = values.get(offset) {
            out.push(v.clone());
        }
        for (i, &s) in index.iter_mut().zip(shape).rev() {
            *i += 1;
            if *i < s {
                break;
            }
            *i = 0;
        }
    }
    out
}

/// The shape in the header of an `.npy` image, checked against the bytes that follow (so a
/// header cannot claim more elements than the file could hold).
/// Where the data of an `.npy` image start (after the magic, version, length and header).
fn header_end(bytes: &[u8]) -> std::result::Result<usize, String> {
    match bytes.get(6..) {
        Some([1, _, a, b, ..]) => Ok(10 + u16::from_le_bytes([*a, *b]) as usize),
        Some([2 | 3, _, a, b, c, d, ..]) => Ok(12 + u32::from_le_bytes([*a, *b, *c, *d]) as usize),
        _ => Err("not an .npy image".into()),
    }
    .and_then(|end| if end <= bytes.len() { Ok(end) } else { Err("the header is truncated".into()) })
}

fn precheck(bytes: &[u8]) -> std::result::Result<Vec<usize>, String> {
    let not_npy = || "not an .npy image (no \\x93NUMPY magic)".to_string();
    let rest = bytes.strip_prefix(b"\x93NUMPY".as_slice()).ok_or_else(not_npy)?;
    let (text_start, len) = match rest {
        [1, _, a, b, ..] => (10, u16::from_le_bytes([*a, *b]) as usize),
        [2 | 3, _, a, b, c, d, ..] => (12, u32::from_le_bytes([*a, *b, *c, *d]) as usize),
        _ => return Err(not_npy()),
    };
    let header = bytes.get(text_start..text_start + len).ok_or("the header is truncated")?;
    let header = String::from_utf8_lossy(header);
    let after = header.split_once("'shape'").map(|(_, a)| a).ok_or("the header has no shape")?;
    let tuple = after.split_once('(').and_then(|(_, a)| a.split_once(')')).map(|(t, _)| t).ok_or("bad shape")?;
    let shape = tuple
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().map_err(|_| format!("bad shape ({tuple})")))
        .collect::<std::result::Result<Vec<usize>, _>>()?;
    let count = shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s)).ok_or("the shape overflows")?;
    let data = bytes.len().saturating_sub(text_start + len);
    if count > data {
        return Err(format!("is truncated: shape {shape:?} needs {count} values, only {data} bytes follow"));
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `.npy` image of `descr` and `shape` (C order) with the raw `data`.
    fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
        let tuple = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn f64s(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn i64s(v: &[i64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn npy_pair_with_nan_padding() {
        let nan = f64::NAN;
        let x = npy("<f8", &[2, 3, 2], &f64s(&[1., 2., 3., 4., 5., 6., 7., 8., nan, nan, nan, nan]));
        let y = npy("<i8", &[2], &i64s(&[1, 0]));
        let ds = parse_npy::<f32>(&x, &y, "pair").unwrap();
        assert_eq!(ds.sequences, vec![vec![1., 2., 3., 4., 5., 6.], vec![7., 8.]]);
        assert_eq!(ds.targets, Targets::Classes(vec![1, 0]));
        assert_eq!(ds.class_names, vec!["0", "1"]);
    }

    #[test]
    fn a_length_of_zero_is_an_empty_sequence() {
        let nan = f64::NAN;
        // x: [3, 2] univariate, lengths [2, 0, 1]: the NaN padding is ignored.
        let x = npy("<f8", &[3, 2], &f64s(&[1., 2., nan, nan, 3., nan]));
        let y = npy("<i8", &[3], &i64s(&[1, 0, 1]));
        let lengths = npy("<i8", &[3], &i64s(&[2, 0, 1]));
        let ds = parse_npz::<f32>(&npz(&[("x", x.clone()), ("y", y.clone()), ("lengths", lengths)]), "t.npz").unwrap();
        assert_eq!(ds.sequences, vec![vec![1., 2.], vec![], vec![3.]]);
        assert_eq!(ds.targets, Targets::Classes(vec![1, 0, 1]));
        // Without lengths, a row of NaN only is refused, saying how to mean an empty one.
        let err = parse_npz::<f32>(&npz(&[("x", x.clone()), ("y", y.clone())]), "t.npz").unwrap_err().to_string();
        assert!(err.contains("x[1] has no values (all NaN)") && err.contains("lengths[1] = 0"), "{err}");
        let negative = npy("<i8", &[3], &i64s(&[2, -1, 1]));
        let err = parse_npz::<f32>(&npz(&[("x", x), ("y", y), ("lengths", negative)]), "t.npz").unwrap_err();
        assert!(err.to_string().contains("lengths[1] = -1 is outside 0..=2"), "{err}");
    }

    #[test]
    fn fortran_order_is_transposed() {
        assert_eq!(to_c_order(vec![1, 4, 2, 5, 3, 6], &[2, 3]), vec![1, 2, 3, 4, 5, 6]);
        let v: Vec<usize> = (0..24).collect();
        let c = to_c_order(v, &[2, 3, 4]);
        // C index (i, j, k) holds the Fortran offset i + 2 j + 6 k.
        assert_eq!(c[4 + 2], 2 + 6 * 2);
        assert_eq!(c[12 + 4 * 2 + 3], 1 + 2 * 2 + 6 * 3);
    }

    #[test]
    fn bad_arrays_are_named() {
        let x = npy("<f8", &[1, 2], &f64s(&[1., 2.]));
        let cases = [
            (x.clone(), npy("<i8", &[2], &i64s(&[0, 1])), "shapes disagree: x has 1 sequences"),
            (npy("<i4", &[1, 2], &[0; 8]), npy("<i8", &[1], &i64s(&[0])), "array `x` must be float32 or float64"),
            (x.clone(), npy("<c16", &[1], &[0; 16]), "array `y` has dtype <c16"),
            (x.clone(), npy("<i8", &[1], &i64s(&[-1])), "y[0] = -1 is not a class index"),
            (npy("<f8", &[1, 2], &f64s(&[1.])), npy("<i8", &[1], &i64s(&[0])), "array `x` is truncated"),
            (npy("<f8", &[3], &f64s(&[1., 2., 3.])), npy("<i8", &[1], &i64s(&[0])), "shape [N, T, C] or [N, T]"),
            (
                npy("<f8", &[1, 2], &f64s(&[f64::NAN, 2.])),
                npy("<i8", &[1], &i64s(&[0])),
                "x[0] step 0, channel 0 is NaN",
            ),
            (b"garbage".to_vec(), npy("<i8", &[1], &i64s(&[0])), "not an .npy image"),
            (npy("<f8", &[1 << 40, 1 << 40], &[]), npy("<i8", &[1], &i64s(&[0])), "the shape overflows"),
        ];
        for (x, y, want) in cases {
            let e = parse_npy::<f64>(&x, &y, "pair").unwrap_err().to_string();
            assert!(e.starts_with("pair: ") && e.contains(want), "{e} does not contain {want}");
        }
    }

    /// An `.npz` (zip) image of `members` (name, `.npy` bytes), deflated.
    fn npz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        use std::io::Write;
        let mut w = npyz::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = npyz::zip::write::FileOptions::default().compression_method(npyz::zip::CompressionMethod::Deflated);
        for (name, bytes) in members {
            w.start_file(format!("{name}.npy"), opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn npz_error(bytes: &[u8], budget: u64) -> String {
        parse_npz_within::<f32>(bytes, Path::new("t.npz"), budget).unwrap_err().to_string()
    }

    #[test]
    fn class_ids_beyond_the_sequences_are_refused_not_allocated() {
        // 834 bytes that once asked for 5e7 class names.
        let x = npy("<f4", &[3, 2], &f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let y = npy("<i8", &[3], &i64s(&[50_000_000, 1, 0]));
        let err = npz_error(&npz(&[("x", x.clone()), ("y", y)]), u64::MAX);
        assert!(err.contains("y holds class 50000000 but there are only 3 sequences"), "{err}");
        let y = npy("<i8", &[3], &i64s(&[2, 1, 0]));
        assert!(parse_npz_within::<f32>(&npz(&[("x", x), ("y", y)]), Path::new("t.npz"), u64::MAX).is_ok());
    }

    #[test]
    fn members_are_read_within_the_budget_and_their_announced_size() {
        let x = npy("<f4", &[2, 500], &vec![0u8; 4000]);
        let y = npy("<i8", &[2], &i64s(&[0, 1]));
        let good = npz(&[("x", x), ("y", y)]);
        assert!(good.len() < 1000, "zeros compress: {} bytes", good.len());
        let err = npz_error(&good, 2000);
        assert!(err.contains("array `x` expands to") && err.contains("more than the 2000 bytes"), "{err}");
        assert!(parse_npz_within::<f32>(&good, Path::new("t.npz"), 1 << 20).is_ok());
        // An archive whose entries announce less than they hold (central directory and local
        // header patched): reading stops at the announcement and refuses.
        let mut lying = good.clone();
        for (sig, offset) in [(b"PK\x01\x02", 24), (b"PK\x03\x04", 22)] {
            let at = lying.windows(4).position(|w| w == sig).unwrap() + offset;
            lying[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
        }
        let err = npz_error(&lying, 1 << 20);
        assert!(err.contains("array `x`"), "{err}");
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut data = f32s(&[1.0, 2.0]);
        data.extend_from_slice(b"junk");
        let err = read_array(&npy("<f4", &[1, 2], &data), "x").err().unwrap();
        assert!(err.contains("4 trailing bytes"), "{err}");
        let err = read_array(&npy("<f4", &[1, 2], &f32s(&[1.0])), "x").err().unwrap();
        assert!(err.contains("truncated"), "{err}");
    }
}
