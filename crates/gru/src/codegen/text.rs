//! What both languages print alike: numbers that read back exactly, arrays, the
//! transposed weight layout, names, and a description of each stage for comments.

use std::fmt::Write;

use super::plan::{Plan, Stage};
use crate::network::{Elementwise, Transformation};

/// An f32 in the shortest decimal form that reads back to the same value (`{:e}`: Rust's
/// float printing is round-trip exact); C and Rust both parse it correctly rounded.
pub fn f32_lit(v: f32) -> String {
    format!("{v:e}")
}

/// An f64 likewise.
pub fn f64_lit(v: f64) -> String {
    format!("{v:e}")
}

/// `values` as the elements of an array initializer, eight a line, each followed by
/// `suffix` (`"f"` in C), indented by four spaces.
pub fn elements(values: &[f32], suffix: &str) -> String {
    let mut out = String::new();
    for chunk in values.chunks(8) {
        out.push_str("    ");
        for v in chunk {
            let _ = write!(out, "{}{suffix}, ", f32_lit(*v));
        }
        out.pop();
        out.push('\n');
    }
    out
}

/// `m` (`rows × cols` row-major) transposed: `cols × rows` row-major, so that
/// `out[j] = Σ_k mᵀ[k][j] · v[k]` runs over contiguous rows (the generated products are
/// this "axpy" form, whose sums run in `k` order like a plain dot product).
pub fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; m.len()];
    for j in 0..rows {
        for k in 0..cols {
            t[k * rows + j] = m[j * cols + k];
        }
    }
    t
}

/// An element-wise function of the f64 `v`, in either language: the names of the math
/// functions are given (`exp`, `log`, ...), C's or the generated Rust crate's.
pub struct MathNames {
    pub exp: &'static str,
    pub log: &'static str,
    pub log1p: &'static str,
    pub tanh: &'static str,
    pub sqrt: &'static str,
    pub fabs: &'static str,
    pub fmax: &'static str,
    pub fmin: &'static str,
    /// `select(condition, a, b)`: `a` when the condition holds, else `b`.
    pub select: fn(&str, &str, &str) -> String,
}

/// `f(v)` of an element-wise layer (f64, as the native layer computes it).
pub fn elementwise_expr(f: &Elementwise, m: &MathNames) -> String {
    match *f {
        Elementwise::Tanh => format!("{}(v)", m.tanh),
        Elementwise::Relu { negative_slope } => (m.select)("v > 0.0", "v", &format!("{} * v", f64_lit(negative_slope))),
        Elementwise::Logistic => format!("1.0 / (1.0 + {}(-v))", m.exp),
        Elementwise::Linear { alpha, beta } => format!("{} * v + {}", f64_lit(alpha), f64_lit(beta)),
        // ln(1 + e^v) without overflow, as the native layer.
        Elementwise::Softrelu => (m.select)("v > 30.0", "v", &format!("{}({}(v))", m.log1p, m.exp)),
        Elementwise::Softsign => format!("v / (1.0 + {}(v))", m.fabs),
        Elementwise::Clip { lower, upper } => {
            format!("{}({}(v, {}), {})", m.fmin, m.fmax, f64_lit(lower), f64_lit(upper))
        }
        Elementwise::Log => format!("{}(v)", m.log),
    }
}

/// `g(v)` of Korali's output transformation (f64).
pub fn transformation_expr(g: Transformation, m: &MathNames) -> String {
    match g {
        Transformation::Identity => "v".into(),
        Transformation::Absolute => format!("{}(v)", m.fabs),
        Transformation::Softplus => format!("0.5 * (v + {}(1.0 + v * v))", m.sqrt),
        Transformation::Tanh => format!("{}(v)", m.tanh),
        Transformation::Sigmoid => format!("1.0 / (1.0 + {}(-v))", m.exp),
    }
}

/// One line per stage, for the generated files' header comment.
pub fn describe(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    let mut width = plan.input_size;
    if let Some(n) = &plan.input_norm {
        lines.push(format!("input normalization: x' = (x - offset) / scale, {} channels", n.offset.len()));
    }
    for (k, stage) in plan.stages.iter().enumerate() {
        let text = match stage {
            Stage::Gru(g) => {
                let s = &g.spec;
                let gate = match g.hard_sigmoid() {
                    Some((a, b)) => format!("hard-sigmoid (alpha {a}, beta {b})"),
                    None => "sigmoid".into(),
                };
                format!(
                    "GRU: I {}, H {}, depth {}, {}, reset gate {}, state {}, gate {}, clip {}, output mode {}, state h[{}..{})",
                    s.input_size,
                    s.hidden_size,
                    s.depth,
                    if s.bidirectional {
                        "bidirectional"
                    } else if s.reverse {
                        "reverse"
                    } else {
                        "forward"
                    },
                    s.reset_gate_mode.name(),
                    if g.softsign() { "softsign" } else { "tanh" },
                    gate,
                    g.clip().map_or("none".into(), |c| c.to_string()),
                    if s.output_mode == gru_core::OutputMode::Last { "last" } else { "sequence" },
                    g.state_offset,
                    g.state_offset + g.h0.len()
                )
            }
            Stage::Dense { inputs, outputs, .. } => format!("fully connected: {inputs} -> {outputs}"),
            Stage::Softmax { width } => format!("softmax over {width} channels"),
            Stage::Elementwise { function, .. } => format!("element-wise {function:?}"),
            Stage::Output { channels } => format!("output transformation of {} channels", channels.len()),
        };
        lines.push(format!("stage {k}: {text} ({width} -> {})", stage.out_width(width)));
        width = stage.out_width(width);
    }
    if let Some(n) = &plan.target_norm {
        lines.push(format!("target denormalization: y = y' * scale + offset, {} channels", n.offset.len()));
    }
    lines
}

/// Whether `name` can name the generated symbols in C and Rust: an ASCII identifier of at
/// most 32 characters, not a keyword of either language.
pub fn valid_prefix(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
        "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
        "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "as",
        "async", "await", "crate", "dyn", "false", "fn", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
        "pub", "ref", "self", "super", "trait", "true", "type", "unsafe", "use", "where", "core", "std",
    ];
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_read_back_exactly() {
        for v in [0.1f32, f32::MAX, f32::MIN_POSITIVE, 1e-45, -0.0, 1.0 / 3.0, 16777216.0, 7.0e-3] {
            let text = f32_lit(v);
            assert_eq!(text.parse::<f32>().unwrap().to_bits(), v.to_bits(), "{text}");
        }
        for v in [0.1f64, 1.0 / 3.0, -2.5e-300] {
            assert_eq!(f64_lit(v).parse::<f64>().unwrap(), v);
        }
        assert_eq!(elements(&[1.0, 0.5], "f"), "    1e0f, 5e-1f,\n");
    }

    #[test]
    fn transposes_and_checks_names() {
        assert_eq!(transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert!(valid_prefix("model") && valid_prefix("kws_v2") && valid_prefix("_m"));
        for bad in ["", "2x", "my-model", "static", "fn", "__x", "é", &"a".repeat(33)] {
            assert!(!valid_prefix(bad), "{bad}");
        }
    }
}
