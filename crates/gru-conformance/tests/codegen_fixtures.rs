//! The generated C and no_std Rust on the reference fixtures (`fixtures/*.json`): each
//! fixture's GRU as a network `input -> GRU -> regression` with the fixture's weights, every
//! sequence of its batch (its own length, its own slice of h0) run through `model_run` and,
//! where the code has it, `model_step`, compared with the native engine (which
//! `fixtures.rs` checks against the fixtures' PyTorch values) by DESIGN.md's f32 rule.
//! The C check skips with a notice without a C compiler, unless GRU_REQUIRE_CC=1.

use gru::codegen::verify::{c_compiler, check, Case};
use gru::codegen::{CodegenOptions, Target};
use gru::network::{regression, sequence_input, GruLayerSpec, Network};
use gru::Real;
use gru_conformance::fixture::{load_all, Fixture};

fn network<T: Real>(f: &Fixture) -> Network<T> {
    let specs = vec![sequence_input(f.spec.input_size), GruLayerSpec::new(f.gru_spec()).into(), regression()];
    let mut net = Network::<T>::new(specs, 0).unwrap();
    net.set_params_flat(&f.gru_params::<T>().to_flat()).unwrap();
    net
}

/// Sequence b of the fixture: `x[t, b, :]` for t < len_b, and `h0[k, b, :]` per block k.
fn cases(f: &Fixture) -> Vec<Case> {
    let (i, h, batch) = (f.spec.input_size, f.spec.hidden_size, f.batch);
    let blocks = f.spec.depth * if f.spec.bidirectional { 2 } else { 1 };
    (0..batch)
        .filter(|&b| f.lengths[b] > 0)
        .map(|b| Case {
            x: (0..f.lengths[b])
                .flat_map(|t| f.x[(t * batch + b) * i..(t * batch + b + 1) * i].to_vec())
                .map(|v| v as f32)
                .collect(),
            steps: f.lengths[b],
            h0: f.h0.as_ref().map(|h0| {
                (0..blocks)
                    .flat_map(|k| h0[(k * batch + b) * h..(k * batch + b + 1) * h].to_vec())
                    .map(|v| v as f32)
                    .collect()
            }),
        })
        .collect()
}

fn run(target: Target) {
    let fixtures = load_all();
    let options = CodegenOptions { max_steps: 64, ..CodegenOptions::default() };
    let (mut n32, mut c32, mut n64, mut c64) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for f in &fixtures {
        match f.dtype {
            gru::DType::F32 => {
                n32.push(network::<f32>(f));
                c32.push(cases(f));
            }
            gru::DType::F64 => {
                n64.push(network::<f64>(f));
                c64.push(cases(f));
            }
        }
    }
    assert!(!n32.is_empty() && !n64.is_empty(), "fixtures of both dtypes");
    let (d32, d64) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let r32 = check(target, &mut n32, &c32, &options, d32.path(), 1e-5).unwrap_or_else(|e| panic!("{e}"));
    // f64 fixtures: the generated code holds the weights rounded to f32 and computes in f32.
    let r64 = check(target, &mut n64, &c64, &options, d64.path(), 1e-5).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}: f32 {r32:?}, f64 {r64:?}", target.name());
    assert_eq!(r32.models + r64.models, fixtures.len());
    assert_eq!(r32.cases, c32.iter().map(Vec::len).sum::<usize>());
}

#[test]
fn generated_c_agrees_on_every_fixture() {
    if c_compiler().is_none() {
        assert_ne!(std::env::var("GRU_REQUIRE_CC").as_deref(), Ok("1"), "GRU_REQUIRE_CC=1 but no C compiler runs");
        eprintln!("notice: no C compiler (cc or $CC): the generated C is not checked on the fixtures");
        return;
    }
    run(Target::C);
}

#[test]
fn generated_no_std_rust_agrees_on_every_fixture() {
    run(Target::RustNoStd);
}
