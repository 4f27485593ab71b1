//! Generated C and no_std Rust against the native engine: every option of the GRU cross
//! product the generator accepts, the layers around the GRU, and what it refuses.
//!
//! The C checks need a C compiler (`cc`, or `$CC`) and skip with a notice without one,
//! unless GRU_REQUIRE_CC=1 (CI) makes that a failure. The Rust checks build with the cargo
//! that runs the tests (offline: the generated code has no dependency).

use gru::codegen::verify::{c_compiler, check, sample_cases, Case};
use gru::codegen::{generate, plan_of, CodegenOptions, Target};
use gru::network::{
    activation, classification, dropout, fully_connected, gru, regression, sequence_input, softmax, Elementwise,
    LayerSpec, Network, Normalization, OutputTransform, TargetNormalization, Transformation,
};
use gru::{layers, Error, GateActivation, OutputMode, ResetGateMode, StateActivation};

/// f32 tolerance of DESIGN.md.
const TOL: f64 = 1e-5;

/// A network of `specs` with every learnable value drawn in [-0.6, 0.6) (biases included).
fn network(specs: Vec<LayerSpec>, seed: u64) -> Network<f32> {
    let mut net = Network::<f32>::new(specs, seed).unwrap();
    let mut state = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let flat: Vec<f32> = (0..net.params_flat().len())
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 1.2 - 0.6
        })
        .collect();
    net.set_params_flat(&flat).unwrap();
    net
}

/// The GRU cross product: reset-gate mode × state activation × gate activation × clip ×
/// depth × direction × output mode, each a network `input(3) -> GRU(4) -> regression`.
fn cross_product() -> Vec<Network<f32>> {
    let mut nets = Vec::new();
    let gates = [
        GateActivation::Sigmoid,
        GateActivation::HARD_SIGMOID,
        GateActivation::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 },
    ];
    for mode in ResetGateMode::ALL {
        for state in [StateActivation::Tanh, StateActivation::Softsign] {
            for gate in gates {
                for clip in [None, Some(0.7)] {
                    for depth in [1, 2] {
                        for (bidirectional, reverse) in [(false, false), (true, false), (false, true)] {
                            for output in [OutputMode::Sequence, OutputMode::Last] {
                                let layer = gru(4)
                                    .reset_gate_mode(mode)
                                    .state_activation_function(state)
                                    .gate_activation_function(gate)
                                    .clip(clip)
                                    .depth(depth)
                                    .bidirectional(bidirectional)
                                    .reverse(reverse)
                                    .output_mode(output);
                                let seed = nets.len() as u64;
                                nets.push(network(layers![sequence_input(3), layer, regression()], seed));
                            }
                        }
                    }
                }
            }
        }
    }
    nets
}

/// Every layer around the GRU: input and target normalization, fully connected, softmax,
/// each element-wise function, Korali's output transformations, a learnable initial state,
/// dropout between stacked layers, two GRU layers, output mode last with layers after it.
fn layers_around() -> Vec<Network<f32>> {
    let relu = Elementwise::Relu { negative_slope: 0.1 };
    let transform = OutputTransform {
        transformations: vec![
            Transformation::Identity,
            Transformation::Absolute,
            Transformation::Softplus,
            Transformation::Tanh,
            Transformation::Sigmoid,
        ],
        scale: vec![1.0, 2.0, 0.5, -1.5, 3.0],
        shift: vec![0.0, -1.0, 0.25, 0.5, 2.0],
    };
    let specs = vec![
        layers![
            sequence_input(3),
            gru(5).output_mode(OutputMode::Last),
            fully_connected(4),
            softmax(),
            classification()
        ],
        layers![sequence_input(2), gru(4), fully_connected(3), softmax(), classification()],
        layers![sequence_input(3), gru(4), activation(Elementwise::Tanh), fully_connected(2), regression()],
        layers![sequence_input(3), gru(4), activation(relu), activation(Elementwise::Logistic), regression()],
        layers![
            sequence_input(3),
            gru(4),
            activation(Elementwise::Linear { alpha: 1.5, beta: -0.25 }),
            activation(Elementwise::Softrelu),
            activation(Elementwise::Softsign),
            regression()
        ],
        layers![
            sequence_input(3),
            gru(4).output_mode(OutputMode::Last),
            activation(Elementwise::Clip { lower: -0.2, upper: 0.3 }),
            fully_connected(3),
            softmax(),
            activation(Elementwise::Log),
            regression()
        ],
        layers![sequence_input(3), gru(4), fully_connected(5), LayerSpec::OutputTransform(transform), regression()],
        layers![sequence_input(3), gru(4).learnable_initial_state(true).depth(2), regression()],
        layers![sequence_input(3), gru(4).depth(3).dropout(0.3), dropout(0.2), fully_connected(2), regression()],
        layers![
            sequence_input(3),
            gru(4).reset_gate_mode(ResetGateMode::RecurrentBiasAfterMultiplication),
            fully_connected(3),
            gru(5).output_mode(OutputMode::Last).learnable_initial_state(true),
            fully_connected(2),
            regression()
        ],
        layers![
            sequence_input(3),
            gru(4).bidirectional(true).learnable_initial_state(true),
            fully_connected(3),
            gru(3).bidirectional(true).depth(2).output_mode(OutputMode::Last),
            fully_connected(4),
            softmax(),
            classification()
        ],
        layers![sequence_input(3), fully_connected(4), activation(Elementwise::Tanh), gru(4), regression()],
    ];
    let mut nets: Vec<Network<f32>> = specs.into_iter().enumerate().map(|(i, s)| network(s, 1000 + i as u64)).collect();
    // Normalizations: the input's (any kind applies its fitted offset and scale) and the
    // regression targets'.
    let mut net = network(
        vec![
            LayerSpec::SequenceInput { input_size: 3, normalization: Normalization::Zscore },
            gru(4).into(),
            fully_connected(2),
            regression(),
        ],
        2000,
    );
    net.set_normalization(Some((vec![0.5, -1.0, 0.25], vec![2.0, 0.5, 1.5]))).unwrap();
    let target = TargetNormalization { kind: Normalization::Zscore, offset: vec![3.0, -2.0], scale: vec![0.5, 4.0] };
    net.set_target_normalization(Some(target)).unwrap();
    nets.push(net);
    nets
}

fn cases_of(nets: &[Network<f32>], max_steps: usize) -> Vec<Vec<Case>> {
    let options = CodegenOptions { max_steps, ..CodegenOptions::default() };
    nets.iter().enumerate().map(|(i, n)| sample_cases(&plan_of(n, &options).unwrap(), max_steps, i as u64)).collect()
}

/// Whether the C checks can run here (a notice when not; a failure under GRU_REQUIRE_CC=1).
fn have_cc() -> bool {
    if c_compiler().is_some() {
        return true;
    }
    assert_ne!(std::env::var("GRU_REQUIRE_CC").as_deref(), Ok("1"), "GRU_REQUIRE_CC=1 but no C compiler runs");
    eprintln!("notice: no C compiler (cc or $CC): the generated C is not checked");
    false
}

fn run_check(target: Target, mut nets: Vec<Network<f32>>, max_steps: usize) {
    let cases = cases_of(&nets, max_steps);
    let dir = tempfile::tempdir().unwrap();
    let options = CodegenOptions { max_steps, ..CodegenOptions::default() };
    let report = check(target, &mut nets, &cases, &options, dir.path(), TOL).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}: {report:?}", target.name());
    assert_eq!(report.models, nets.len());
    assert_eq!(report.cases, cases.iter().map(Vec::len).sum::<usize>());
    assert!(report.values > 0 && report.max_error <= TOL);
}

/// Every seventh point of the cross product (each option value appears, with each
/// structure: 62 models, one C program); the whole product in the ignored test below.
#[test]
fn generated_c_matches_the_native_engine_over_the_cross_product() {
    if have_cc() {
        run_check(Target::C, cross_product().into_iter().step_by(7).collect(), 16);
    }
}

/// All 432 points (about a minute and a half on two cores: `cargo test -p gru --test
/// codegen -- --ignored`).
#[test]
#[ignore]
fn generated_c_matches_the_native_engine_over_the_whole_cross_product() {
    if have_cc() {
        run_check(Target::C, cross_product(), 16);
    }
}

#[test]
fn generated_c_matches_the_native_engine_with_the_layers_around_the_gru() {
    if have_cc() {
        run_check(Target::C, layers_around(), 16);
    }
}

#[test]
fn generated_no_std_rust_matches_the_native_engine() {
    // Every layer around the GRU, and every eleventh point of the cross product (each
    // option value appears), in one build.
    let mut nets = layers_around();
    nets.extend(cross_product().into_iter().step_by(11));
    run_check(Target::RustNoStd, nets, 16);
}

#[test]
fn an_f64_model_is_rounded_to_f32_and_still_agrees() {
    if !have_cc() {
        return;
    }
    let specs = layers![sequence_input(3), gru(4).depth(2), fully_connected(2), regression()];
    let mut net = Network::<f64>::new(specs, 7).unwrap();
    let flat: Vec<f64> = (0..net.params_flat().len()).map(|i| ((i * 37 % 101) as f64 / 101.0 - 0.5) * 1.1).collect();
    net.set_params_flat(&flat).unwrap();
    let options = CodegenOptions::default();
    let cases = vec![sample_cases(&plan_of(&net, &options).unwrap(), 16, 3)];
    let dir = tempfile::tempdir().unwrap();
    let report = check(Target::C, &mut [net], &cases, &options, dir.path(), TOL).unwrap();
    assert_eq!(report.cases, 4);
    let header =
        &generate(&network(layers![sequence_input(1), gru(1), regression()], 1), Target::C, &options).unwrap()[0];
    assert!(!header.contents.contains("rounded to f32"), "only an f64 model says so");
}

/// What the generator refuses, each a typed error naming the option.
#[test]
fn refusals_name_the_option() {
    let bidirectional = network(layers![sequence_input(2), gru(3).bidirectional(true), regression()], 1);
    let reverse = network(layers![sequence_input(2), gru(3).reverse(true), regression()], 2);
    let require = CodegenOptions { require_step: true, ..CodegenOptions::default() };
    for (net, option) in [(&bidirectional, "bidirectional"), (&reverse, "reverse")] {
        for target in [Target::C, Target::RustNoStd] {
            match generate(net, target, &require) {
                Err(Error::NotRepresentable { option: o, target: t, .. }) => {
                    assert_eq!((o.as_str(), t.as_str()), (option, "generated model_step"));
                }
                other => panic!("{option}: expected NotRepresentable, got {other:?}"),
            }
        }
        // Without require_step: model_run only, said in the header.
        let files = generate(net, Target::C, &CodegenOptions::default()).unwrap();
        assert!(files[0].contents.contains("#define MODEL_CAN_STEP 0"));
        assert!(!files.iter().any(|f| f.contents.contains("void model_step(")), "no model_step is emitted");
        let rust = generate(net, Target::RustNoStd, &CodegenOptions::default()).unwrap();
        assert!(
            rust[1].contents.contains("pub const CAN_STEP: bool = false;")
                && !rust[1].contents.contains("pub fn step(")
        );
    }
    let fine = network(layers![sequence_input(2), gru(3), regression()], 3);
    for prefix in ["", "9lives", "my-model", "static", "fn"] {
        let options = CodegenOptions { prefix: prefix.into(), ..CodegenOptions::default() };
        match generate(&fine, Target::C, &options) {
            Err(Error::Config { path, .. }) => assert_eq!(path, "prefix"),
            other => panic!("prefix {prefix:?}: expected Config, got {other:?}"),
        }
    }
    let zero = CodegenOptions { max_steps: 0, ..CodegenOptions::default() };
    assert!(
        matches!(generate(&bidirectional, Target::C, &zero), Err(Error::Config { path, .. }) if path == "max_steps")
    );
    let huge = CodegenOptions { max_steps: 1 << 40, ..CodegenOptions::default() };
    assert!(matches!(
        generate(&bidirectional, Target::C, &huge),
        Err(Error::NotRepresentable { option, .. }) if option == "max_steps"
    ));
    // A causal network ignores max_steps: its model_run takes any T.
    assert!(generate(&fine, Target::C, &huge).unwrap()[0].contents.contains("#define MODEL_MAX_STEPS 0"));
}

/// A layer-by-layer model_run refuses T > MAX_STEPS and T < 0 (returns -1), takes T =
/// MAX_STEPS, and with output mode last and T = 0 gives the output of the state it holds.
#[test]
fn generated_c_model_run_checks_its_step_count() {
    if !have_cc() {
        return;
    }
    let net = network(
        layers![
            sequence_input(2),
            gru(3).bidirectional(true).output_mode(OutputMode::Last),
            fully_connected(2),
            regression()
        ],
        5,
    );
    let options = CodegenOptions { max_steps: 4, ..CodegenOptions::default() };
    let dir = tempfile::tempdir().unwrap();
    gru::codegen::write_files(dir.path(), &generate(&net, Target::C, &options).unwrap()).unwrap();
    let main = r#"#include <stdio.h>
#include "model.h"
int main(void)
{
    static model_state s;
    float x[5 * MODEL_INPUT_SIZE] = {0}, y[MODEL_OUTPUT_SIZE], h[MODEL_STATE_SIZE];
    int i;
    model_reset(&s);
    if (model_run(&s, x, 5, y) != -1 || model_run(&s, x, -1, y) != -1 || model_run(&s, x, 4, y) != 0) return 1;
    for (i = 0; i < MODEL_STATE_SIZE; ++i) h[i] = 0.1f * i;
    model_set_state(&s, h);
    if (model_run(&s, x, 0, y) != 0) return 2;
    printf("%.9g %.9g\n", y[0], y[1]);
    return MODEL_MAX_STEPS == 4 && MODEL_CAN_STEP == 0 ? 0 : 3;
}
"#;
    std::fs::write(dir.path().join("main.c"), main).unwrap();
    let cc = c_compiler().unwrap();
    let exe = dir.path().join("main");
    let built = std::process::Command::new(cc)
        .args(["-std=c99", "-Wall", "-Werror", "-O2", "-o"])
        .arg(&exe)
        .args(["main.c", "model.c", "-lm"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let out = std::process::Command::new(&exe).output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status.code());
    // T = 0: the dense layer applied to the top layer's state [h_fwd, h_bwd] = h[0..6).
    let y: Vec<f32> = String::from_utf8(out.stdout).unwrap().split_whitespace().map(|v| v.parse().unwrap()).collect();
    let plan = plan_of(&net, &options).unwrap();
    let gru::codegen::Stage::Dense { w, b, .. } = &plan.stages[1] else { panic!("stage 1 is dense") };
    for (o, &got) in y.iter().enumerate() {
        let expected: f32 = b[o] + (0..6).map(|k| w[o * 6 + k] * 0.1 * k as f32).sum::<f32>();
        assert!((got - expected).abs() <= 1e-5 * (1.0 + expected.abs()), "{got} vs {expected}");
    }
}

/// An f64 value beyond f32's range has no f32 form: refused, naming the tensor.
#[test]
fn a_value_beyond_f32_is_refused() {
    let mut net = Network::<f64>::new(layers![sequence_input(2), gru(3), regression()], 9).unwrap();
    let mut flat = net.params_flat();
    flat[4] = 1e300;
    net.set_params_flat(&flat).unwrap();
    match generate(&net, Target::C, &CodegenOptions::default()) {
        Err(Error::NotRepresentable { option, value, .. }) => {
            assert_eq!((option.as_str(), value.as_str()), ("GRU input weights", "1e300 (element 4)"));
        }
        other => panic!("expected NotRepresentable, got {other:?}"),
    }
}
