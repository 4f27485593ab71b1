//! Checks generated code against the native engine: builds the code of several models into
//! one program (C: the system compiler, `cc -std=c99 -Wall -Werror -O2`, or `$CC`; Rust:
//! cargo, offline, the models as modules of one `#![no_std]` library and a std driver),
//! runs it on sequences, and compares with [`Network::forward`] by DESIGN.md's rule
//! `|a - ref| <= tol·(1 + |ref|)`:
//!
//! - `model_run` from the case's state (or `model_reset`): y and the state it leaves;
//! - `model_step` frame by frame from the same state (when the code has it): each frame's
//!   y against the native output of the whole sequence (output mode sequence) or of the
//!   prefix ending at that frame (output mode last), and the final state.
//!
//! Driver protocol (native-endian, per case): in: `i32 T, i32 has_h, f32 h[S] if has_h,
//! f32 x[T·I]`; out: `f32 rc, f32 y_run[..], f32 h_run[S]`, then with a step `f32
//! y_steps[T·K], f32 h_steps[S]`.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use gru_core::Real;

use super::plan::Plan;
use super::{c, plan_of, rust_no_std, CodegenOptions, Target};
use crate::error::{Error, Result};
use crate::network::{Network, Node};

/// One input sequence of a check.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// `[T, I]`.
    pub x: Vec<f32>,
    pub steps: usize,
    /// The state to start from (`[STATE_SIZE]`), else `model_reset`'s.
    pub h0: Option<Vec<f32>>,
}

/// What a check compared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub models: usize,
    pub cases: usize,
    pub values: usize,
    /// The largest `|a - ref| / (1 + |ref|)` seen.
    pub max_error: f64,
}

/// A few sequences for `plan`: lengths 1, 4 and 9 from the reset state, and 6 from a drawn
/// state, values in [-2, 2) from `seed` (T capped at `max_steps`).
pub fn sample_cases(plan: &Plan, max_steps: usize, seed: u64) -> Vec<Case> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
    };
    let mut cases = Vec::new();
    for (steps, drawn) in [(1, false), (4, false), (9, false), (6, true)] {
        let steps = steps.min(max_steps);
        let x = (0..steps * plan.input_size).map(|_| next()).collect();
        let h0 = drawn.then(|| (0..plan.state_size).map(|_| 0.5 * next()).collect());
        cases.push(Case { x, steps, h0 });
    }
    cases
}

/// The system C compiler (`$CC`, else `cc`) when it runs.
pub fn c_compiler() -> Option<PathBuf> {
    let cc = PathBuf::from(std::env::var_os("CC").unwrap_or_else(|| "cc".into()));
    Command::new(&cc).arg("--version").output().ok().filter(|o| o.status.success()).map(|_| cc)
}

/// Generates the code of every network (prefixes `m0`, `m1`, ...; `options.prefix` is
/// ignored), builds it in `dir` with the models' cases, runs it and compares it with the
/// native engine. Errors: a generation error; [`Error::Unsupported`] when the build or the
/// program fails (with the compiler's message); [`Error::VerifyMismatch`] naming the model,
/// case and value that differ beyond `tol`.
pub fn check<T: Real>(
    target: Target,
    networks: &mut [Network<T>],
    cases: &[Vec<Case>],
    options: &CodegenOptions,
    dir: &Path,
    tol: f64,
) -> Result<Report> {
    let io = |e: std::io::Error| Error::file(dir, e.to_string());
    std::fs::create_dir_all(dir.join("src")).map_err(io)?;
    let mut plans = Vec::new();
    for (m, net) in networks.iter().enumerate() {
        let opts = CodegenOptions { prefix: format!("m{m}"), ..options.clone() };
        let plan = plan_of(net, &opts)?;
        let mut bytes = Vec::new();
        for case in &cases[m] {
            bytes.extend((case.steps as i32).to_ne_bytes());
            bytes.extend(i32::from(case.h0.is_some()).to_ne_bytes());
            for v in case.h0.iter().flatten().chain(&case.x) {
                bytes.extend(v.to_ne_bytes());
            }
        }
        std::fs::write(dir.join(format!("in{m}.bin")), bytes).map_err(io)?;
        plans.push((plan, opts));
    }
    let max_t = cases.iter().flatten().map(|c| c.steps).max().unwrap_or(1).max(1);
    let program = match target {
        Target::C => build_c(&plans, max_t, dir)?,
        Target::RustNoStd => build_rust(&plans, dir)?,
    };
    let out = Command::new(&program).arg(dir).output().map_err(io)?;
    if !out.status.success() {
        return Err(unsupported("running the generated code", &out.stderr));
    }
    let mut report = Report { models: networks.len(), ..Report::default() };
    for (m, net) in networks.iter_mut().enumerate() {
        let bytes = std::fs::read(dir.join(format!("out{m}.bin"))).map_err(io)?;
        let got: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect();
        compare(net, &plans[m].0, m, &cases[m], &got, tol, &mut report)?;
    }
    Ok(report)
}

fn unsupported(operation: &str, stderr: &[u8]) -> Error {
    let text = String::from_utf8_lossy(stderr);
    let tail: String = text.lines().take(40).collect::<Vec<_>>().join("\n");
    Error::Unsupported { operation: operation.into(), reason: tail }
}

/// The native outputs of one case: y and the final state, from `h0` (or the network's own
/// initial states).
fn native<T: Real>(net: &mut Network<T>, x: &[f32], steps: usize, h0: Option<&[f32]>) -> Result<(Vec<f32>, Vec<f32>)> {
    let initial = h0.map(|h| {
        let mut at = 0;
        net.nodes
            .iter()
            .map(|n| match n {
                Node::Gru(g) => {
                    let len = g.spec().map_or(0, |s| s.num_blocks() * s.hidden_size);
                    at += len;
                    Some(h[at - len..at].iter().map(|&v| T::lit(f64::from(v))).collect())
                }
                _ => None,
            })
            .collect::<Vec<Option<Vec<T>>>>()
    });
    let xt: Vec<T> = x.iter().map(|&v| T::lit(f64::from(v))).collect();
    let pass = net.forward(&xt, steps, &[steps], initial.as_deref(), None)?;
    let narrow = |v: &[T]| v.iter().map(|x| x.widen() as f32).collect::<Vec<f32>>();
    let h_t = pass.final_states.iter().flatten().flat_map(|h| narrow(h)).collect();
    Ok((narrow(&pass.output), h_t))
}

fn compare<T: Real>(
    net: &mut Network<T>,
    plan: &Plan,
    m: usize,
    cases: &[Case],
    got: &[f32],
    tol: f64,
    report: &mut Report,
) -> Result<()> {
    let (i, k, s) = (plan.input_size, plan.output_size, plan.state_size);
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[f32]> {
        at += n;
        got.get(at - n..at).ok_or_else(|| Error::data("generated code output", got.len(), "ended early"))
    };
    for (c, case) in cases.iter().enumerate() {
        let (y_ref, h_ref) = native(net, &case.x, case.steps, case.h0.as_deref())?;
        let rc = take(1)?[0];
        if rc != 0.0 {
            return Err(Error::data(&format!("model {m} case {c}: model_run"), rc, "returned an error"));
        }
        let mut check = |what: &str, ours: &[f32], theirs: &[f32]| -> Result<()> {
            for (index, (&a, &r)) in ours.iter().zip(theirs).enumerate() {
                let err = (f64::from(a) - f64::from(r)).abs() / (1.0 + f64::from(r).abs());
                report.max_error = report.max_error.max(if err.is_nan() { f64::INFINITY } else { err });
                if err.is_nan() || err > tol {
                    return Err(Error::VerifyMismatch {
                        reference: "the native engine".into(),
                        tensor: format!("model {m} case {c} {what}"),
                        index,
                        ours: f64::from(a),
                        theirs: f64::from(r),
                        tolerance: tol,
                    });
                }
            }
            report.values += ours.len().min(theirs.len());
            Ok(())
        };
        let y_len = if plan.sequence_output { case.steps * k } else { k };
        check("model_run y", take(y_len)?, &y_ref)?;
        check("model_run state", take(s)?, &h_ref)?;
        if plan.causal() {
            let y_steps = take(case.steps * k)?.to_vec();
            for t in 0..case.steps {
                let expected = if plan.sequence_output {
                    y_ref[t * k..(t + 1) * k].to_vec()
                } else {
                    native(net, &case.x[..(t + 1) * i], t + 1, case.h0.as_deref())?.0
                };
                check(&format!("model_step y at frame {t}"), &y_steps[t * k..(t + 1) * k], &expected)?;
            }
            check("model_step state", take(s)?, &h_ref)?;
        }
        report.cases += 1;
    }
    Ok(())
}

fn build_c(plans: &[(Plan, CodegenOptions)], max_t: usize, dir: &Path) -> Result<PathBuf> {
    let cc = c_compiler().ok_or_else(|| Error::Unsupported {
        operation: "compiling the generated C".into(),
        reason: "no C compiler (cc, or $CC) runs here".into(),
    })?;
    let mut driver = String::from("#include <stdio.h>\n#include <string.h>\n\n");
    let mut main = String::from(
        "int main(int argc, char** argv)\n{\n    char in[4096], out[4096];\n    if (argc < 2) return 2;\n",
    );
    let mut sources = Vec::new();
    for (m, (plan, opts)) in plans.iter().enumerate() {
        for f in c::generate(plan, opts) {
            let path = dir.join(&f.path);
            std::fs::write(&path, &f.contents).map_err(|e| Error::file(&path, e.to_string()))?;
            if path.extension().is_some_and(|e| e == "c") {
                sources.push(path);
            }
        }
        let p = &opts.prefix;
        let up = p.to_uppercase();
        let y_len = if plan.sequence_output { format!("T * {up}_OUTPUT_SIZE") } else { format!("{up}_OUTPUT_SIZE") };
        let steps = if plan.causal() {
            format!(
                "        if (has) {p}_set_state(&s, h0); else {p}_reset(&s);\n        \
                 for (int t = 0; t < T; ++t) {p}_step(&s, x + t * {up}_INPUT_SIZE, y + t * {up}_OUTPUT_SIZE);\n        \
                 fwrite(y, 4, (size_t)T * {up}_OUTPUT_SIZE, o);\n        {p}_get_state(&s, h);\n        fwrite(h, 4, {up}_STATE_SIZE, o);\n"
            )
        } else {
            String::new()
        };
        let _ = write!(
            driver,
            "#include \"{p}.h\"\nstatic int run_{p}(const char* in_path, const char* out_path)\n{{\n    \
             static {p}_state s;\n    static float x[{max_t} * {up}_INPUT_SIZE + 1], y[{max_t} * {up}_OUTPUT_SIZE + 1], h[{up}_STATE_SIZE + 1], h0[{up}_STATE_SIZE + 1];\n    \
             int T, has;\n    FILE* f = fopen(in_path, \"rb\");\n    FILE* o = fopen(out_path, \"wb\");\n    if (!f || !o) return 1;\n    \
             while (fread(&T, 4, 1, f) == 1) {{\n        float rc;\n        if (fread(&has, 4, 1, f) != 1 || T > {max_t}) return 1;\n        \
             if (has && fread(h0, 4, {up}_STATE_SIZE, f) != {up}_STATE_SIZE) return 1;\n        \
             if (fread(x, 4, (size_t)T * {up}_INPUT_SIZE, f) != (size_t)T * {up}_INPUT_SIZE) return 1;\n        \
             if (has) {p}_set_state(&s, h0); else {p}_reset(&s);\n        rc = (float){p}_run(&s, x, T, y);\n        \
             fwrite(&rc, 4, 1, o);\n        fwrite(y, 4, {y_len}, o);\n        {p}_get_state(&s, h);\n        fwrite(h, 4, {up}_STATE_SIZE, o);\n{steps}    }}\n    \
             fclose(f);\n    return fclose(o) != 0;\n}}\n\n"
        );
        let _ = writeln!(
            main,
            "    snprintf(in, sizeof in, \"%s/in{m}.bin\", argv[1]);\n    snprintf(out, sizeof out, \"%s/out{m}.bin\", argv[1]);\n    if (run_{p}(in, out)) return 1;"
        );
    }
    driver.push_str(&main);
    driver.push_str("    return 0;\n}\n");
    let driver_path = dir.join("driver.c");
    std::fs::write(&driver_path, driver).map_err(|e| Error::file(&driver_path, e.to_string()))?;
    // Each model's source to an object, a few compilers at a time, then one link.
    let flags = ["-std=c99", "-Wall", "-Werror", "-O2"];
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let mut objects = Vec::new();
    for chunk in sources.chunks(jobs) {
        let mut children = Vec::new();
        for src in chunk {
            let obj = src.with_extension("o");
            let child = Command::new(&cc)
                .args(flags)
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(&obj)
                .current_dir(dir)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| Error::file(dir, e.to_string()))?;
            children.push(child);
            objects.push(obj);
        }
        for child in children {
            let out = child.wait_with_output().map_err(|e| Error::file(dir, e.to_string()))?;
            if !out.status.success() {
                return Err(unsupported("compiling the generated C", &out.stderr));
            }
        }
    }
    let program = dir.join("driver");
    let out = Command::new(&cc)
        .args(flags)
        .arg("-o")
        .arg(&program)
        .arg(&driver_path)
        .args(&objects)
        .arg("-lm")
        .current_dir(dir)
        .output()
        .map_err(|e| Error::file(dir, e.to_string()))?;
    if !out.status.success() {
        return Err(unsupported("compiling the generated C", &out.stderr));
    }
    Ok(program)
}

fn build_rust(plans: &[(Plan, CodegenOptions)], dir: &Path) -> Result<PathBuf> {
    let write = |path: PathBuf, text: &str| std::fs::write(&path, text).map_err(|e| Error::file(&path, e.to_string()));
    write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"gru_codegen_check\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [lib]\npath = \"src/lib.rs\"\n\n[[bin]]\nname = \"driver\"\npath = \"src/main.rs\"\n\n[workspace]\n",
    )?;
    let mut lib = String::from("#![no_std]\n");
    let mut main = String::from(
        "use std::io::Write;\n\nfn floats(b: &[u8]) -> Vec<f32> {\n    b.chunks_exact(4).map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect()\n}\n\n\
         fn put(o: &mut Vec<u8>, v: &[f32]) {\n    for x in v {\n        o.extend(x.to_ne_bytes());\n    }\n}\n\n\
         fn main() {\n    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect(\"folder\"));\n",
    );
    for (m, (plan, opts)) in plans.iter().enumerate() {
        let p = &opts.prefix;
        write(dir.join(format!("src/{p}.rs")), &rust_no_std::module(plan, opts))?;
        let _ = writeln!(lib, "pub mod {p};");
        let steps = if plan.causal() {
            "        if has != 0 { m::set_state(&mut st, &h) } else { m::reset(&mut st) }\n        \
             let mut ys = vec![0.0f32; t * m::OUTPUT_SIZE];\n        for k in 0..t {\n            \
             m::step(&mut st, x[k * m::INPUT_SIZE..(k + 1) * m::INPUT_SIZE].try_into().unwrap(), (&mut ys[k * m::OUTPUT_SIZE..(k + 1) * m::OUTPUT_SIZE]).try_into().unwrap());\n        }\n        \
             put(&mut o, &ys);\n        put(&mut o, &st.h);\n"
        } else {
            ""
        };
        let _ = write!(
            main,
            "    {{\n        use gru_codegen_check::{p} as m;\n        let b = std::fs::read(dir.join(\"in{m}.bin\")).unwrap();\n        \
             let (mut at, mut o) = (0usize, Vec::new());\n        while at < b.len() {{\n        \
             let int = |at: usize| i32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;\n        \
             let (t, has) = (int(at), int(at + 4));\n        at += 8;\n        let mut h = [0.0f32; m::STATE_SIZE];\n        \
             if has != 0 {{\n            h.copy_from_slice(&floats(&b[at..at + 4 * m::STATE_SIZE]));\n            at += 4 * m::STATE_SIZE;\n        }}\n        \
             let x = floats(&b[at..at + 4 * t * m::INPUT_SIZE]);\n        at += 4 * t * m::INPUT_SIZE;\n        \
             let mut st = m::State::new();\n        if has != 0 {{ m::set_state(&mut st, &h) }} else {{ m::reset(&mut st) }}\n        \
             let mut y = vec![0.0f32; if m::SEQUENCE_OUTPUT {{ t * m::OUTPUT_SIZE }} else {{ m::OUTPUT_SIZE }}];\n        \
             let rc = if m::run(&mut st, &x, &mut y).is_ok() {{ 0.0f32 }} else {{ 1.0 }};\n        \
             put(&mut o, &[rc]);\n        put(&mut o, &y);\n        put(&mut o, &st.h);\n{steps}        }}\n        \
             std::fs::File::create(dir.join(\"out{m}.bin\")).unwrap().write_all(&o).unwrap();\n    }}\n"
        );
    }
    main.push_str("}\n");
    write(dir.join("src/lib.rs"), &lib)?;
    write(dir.join("src/main.rs"), &main)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .current_dir(dir)
        .output()
        .map_err(|e| Error::file(dir, e.to_string()))?;
    if !out.status.success() {
        return Err(unsupported("building the generated Rust", &out.stderr));
    }
    Ok(dir.join("target/debug/driver"))
}
