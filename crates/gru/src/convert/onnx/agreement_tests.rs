//! The importer ([`super::import`]) and the runtime ([`super::runtime`]) on the same small
//! models (built with this crate's protobuf writer, as `onnx.helper` would), one per value
//! of each GRU attribute: both accept them and give the same outputs (within 1e-6, f32),
//! or both refuse them with the same error, or the runtime runs what a [`GruSpec`] cannot
//! hold (directions or layers with different options) and the importer says so
//! ([`Error::NotRepresentable`], naming the option). The runtime runs a reverse direction
//! as a forward GRU over each sequence reversed within its length, the importer as a
//! `reverse` stack of the native engine: their agreement checks one against the other.

use std::path::Path;

use gru_core::OutputMode;

use super::export::{model, node, value_info};
use super::proto::{attr_type, AttributeProto, GraphProto, ModelProto, FLOAT, INT32};
use super::runtime::{OnnxModel, Tensor};
use super::tensor::{attr_float, attr_int, attr_ints, attr_string, attr_strings, float_tensor, int64_tensor};
use super::{import, OnnxOptions};
use crate::convert::verify;
use crate::error::Error;

const I: usize = 3;
const H: usize = 2;
const T: usize = 4;
const B: usize = 3;
const LENGTHS: [usize; B] = [4, 2, 3];

/// What the two readers must do with a model.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Both read it, with the same outputs.
    Both,
    /// The runtime runs it; the importer refuses it as not representable (this option).
    RuntimeOnly(&'static str),
    /// Both refuse it with the same error, whose reason holds this text.
    Neither(&'static str),
}

/// One model: the attributes of each GRU node (on top of `hidden_size`), its weights'
/// directions, the layout of its X and its depth.
struct Case {
    name: &'static str,
    attrs: Vec<AttributeProto>,
    dirs: usize,
    batch_major: bool,
    depth: usize,
    expect: Expect,
}

fn case(name: &'static str, attrs: Vec<AttributeProto>, expect: Expect) -> Case {
    Case { name, attrs, dirs: 1, batch_major: false, depth: 1, expect }
}

fn bidir(name: &'static str, mut attrs: Vec<AttributeProto>, expect: Expect) -> Case {
    attrs.push(attr_string("direction", "bidirectional"));
    Case { dirs: 2, ..case(name, attrs, expect) }
}

fn floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: attr_type::FLOATS, floats: v.to_vec(), ..Default::default() }
}

fn cases() -> Vec<Case> {
    use Expect::*;
    let hard = || vec![attr_strings("activations", &["HardSigmoid", "Softsign"]), floats("activation_alpha", &[0.3])];
    vec![
        case("no attributes", vec![], Both),
        case("direction forward", vec![attr_string("direction", "forward")], Both),
        bidir("direction bidirectional", vec![], Both),
        case("direction reverse", vec![attr_string("direction", "reverse")], Both),
        Case { depth: 2, ..case("two layers reverse, lbr 0", vec![attr_string("direction", "reverse")], Both) },
        Case {
            batch_major: true,
            depth: 2,
            ..case(
                "layout 1, two layers reverse, lbr 1",
                vec![attr_string("direction", "reverse"), attr_int("layout", 1), attr_int("linear_before_reset", 1)],
                Both,
            )
        },
        case("direction sideways", vec![attr_string("direction", "sideways")], Neither("sideways")),
        Case { batch_major: true, ..case("layout 1", vec![attr_int("layout", 1)], Both) },
        Case { batch_major: true, depth: 2, ..bidir("layout 1, two layers", vec![attr_int("layout", 1)], Both) },
        case("layout 2", vec![attr_int("layout", 2)], Neither("layout 2 is not 0 or 1")),
        case("linear_before_reset 0", vec![attr_int("linear_before_reset", 0)], Both),
        case("linear_before_reset 1", vec![attr_int("linear_before_reset", 1)], Both),
        case("linear_before_reset 3", vec![attr_int("linear_before_reset", 3)], Neither("= 3 is not 0 or 1")),
        case("HardSigmoid(0.3), Softsign", hard(), Both),
        case("hardsigmoid, tanh (any case)", vec![attr_strings("activations", &["hardsigmoid", "tanh"])], Both),
        case(
            "HardSigmoid(alpha, beta), lbr 1",
            [hard(), vec![floats("activation_beta", &[0.45]), attr_int("linear_before_reset", 1)]].concat(),
            Both,
        ),
        bidir(
            "activations equal per direction",
            vec![attr_strings("activations", &["Sigmoid", "Softsign", "Sigmoid", "Softsign"])],
            Both,
        ),
        bidir(
            "activations differ per direction",
            vec![attr_strings("activations", &["Sigmoid", "Tanh", "Sigmoid", "Softsign"])],
            RuntimeOnly("activations"),
        ),
        bidir(
            "HardSigmoid alpha differs per direction",
            vec![
                attr_strings("activations", &["HardSigmoid", "Tanh", "HardSigmoid", "Tanh"]),
                floats("activation_alpha", &[0.3, 0.4]),
            ],
            RuntimeOnly("activations"),
        ),
        case("gate activation Relu", vec![attr_strings("activations", &["Relu", "Tanh"])], Neither("Relu")),
        case("state activation Relu", vec![attr_strings("activations", &["Sigmoid", "Relu"])], Neither("Relu")),
        case("one activation", vec![attr_strings("activations", &["Sigmoid"])], Neither("needs 2")),
        case("clip 0.5", vec![attr_float("clip", 0.5)], Both),
        case("clip 0", vec![attr_float("clip", 0.0)], Neither("clip 0")),
        case("clip -1", vec![attr_float("clip", -1.0)], Neither("clip -1")),
        case("clip as an int", vec![attr_int("clip", 1)], Neither("type")),
        case("clip twice", vec![attr_float("clip", 1.0), attr_float("clip", 2.0)], Neither("twice")),
        case("hidden_size 3 (R has 2)", vec![attr_int("hidden_size", 3)], Neither("hidden_size is 3")),
        case("unknown attribute", vec![attr_int("speed", 1)], Neither("speed")),
        Case { depth: 2, ..bidir("two layers, lbr 0, clip", vec![attr_float("clip", 0.8)], Both) },
    ]
}

/// A deterministic value in (-1, 1).
fn value(k: usize) -> f32 {
    ((k as f64 * 0.618_033_988_749_895 + 0.1).sin() * 0.9) as f32
}

/// `c`'s model: a stack of `depth` GRU nodes `gru_l{k}` reading X and `sequence_lens`,
/// chained as our exporter chains them (layout 0: Transpose [0, 2, 1, 3], Reshape
/// [0, 0, -1]; layout 1: Reshape only), its outputs the top node's Y and Y_h.
fn build(c: &Case) -> ModelProto {
    let mut g = GraphProto { name: c.name.into(), ..Default::default() };
    let x_dims = if c.batch_major { [Err("B"), Err("T"), Ok(I)] } else { [Err("T"), Err("B"), Ok(I)] };
    g.input.push(value_info("X", FLOAT, &x_dims));
    g.input.push(value_info("sequence_lens", INT32, &[Err("B")]));
    g.initializer.push(int64_tensor("seq_shape", &[0, 0, -1]));
    let mut x = "X".to_string();
    let mut seed = 0;
    for k in 0..c.depth {
        let inputs = if k == 0 { I } else { c.dirs * H };
        let mut tensor = |name: &str, shape: &[usize]| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (seed..seed + n).map(value).collect();
            seed += n;
            g.initializer.push(float_tensor(name, shape, &v));
            name.to_string()
        };
        let w = tensor(&format!("W{k}"), &[c.dirs, 3 * H, inputs]);
        let r = tensor(&format!("R{k}"), &[c.dirs, 3 * H, H]);
        let b = tensor(&format!("B{k}"), &[c.dirs, 6 * H]);
        let mut attrs = vec![attr_int("hidden_size", H as i64)];
        attrs.retain(|a| !c.attrs.iter().any(|b| b.name == a.name));
        attrs.extend(c.attrs.iter().cloned());
        let top = k + 1 == c.depth;
        let (y, yh) = if top { ("Y".into(), "Y_h".into()) } else { (format!("Y{k}"), format!("Y_h{k}")) };
        let ins = [x.as_str(), &w, &r, &b, "sequence_lens"];
        g.node.push(node(&format!("gru_l{k}"), "GRU", &ins, &[&y, &yh], attrs));
        x = y.clone();
        if !top {
            if !c.batch_major {
                let perm = vec![attr_ints("perm", vec![0, 2, 1, 3])];
                g.node.push(node(&format!("t{k}"), "Transpose", &[&y], &[&format!("{y}_t")], perm));
                x = format!("{y}_t");
            }
            g.node.push(node(&format!("reshape{k}"), "Reshape", &[&x, "seq_shape"], &[&format!("X{}", k + 1)], vec![]));
            x = format!("X{}", k + 1);
        }
    }
    let dirs = c.dirs;
    let y_dims =
        if c.batch_major { [Err("B"), Err("T"), Ok(dirs), Ok(H)] } else { [Err("T"), Ok(dirs), Err("B"), Ok(H)] };
    g.output.push(value_info("Y", FLOAT, &y_dims));
    g.output.push(value_info("Y_h", FLOAT, &[Ok(dirs), Err("B"), Ok(H)]));
    model(g, &OnnxOptions::default(), String::new(), vec![])
}

/// X `[T, B, I]` time-major (ours), and as the model takes it.
fn inputs(c: &Case) -> (Vec<f32>, Tensor, Tensor) {
    let x: Vec<f32> = (0..T * B * I).map(|k| value(1000 + k) * 2.0).collect();
    let fed = if c.batch_major {
        let bm = (0..B).flat_map(|b| (0..T).flat_map(move |t| (0..I).map(move |i| (t, b, i))));
        let v = bm.map(|(t, b, i)| x[(t * B + b) * I + i]).collect();
        Tensor::f32(vec![B, T, I], v)
    } else {
        Tensor::f32(vec![T, B, I], x.clone())
    };
    let lengths = Tensor::i32(vec![B], LENGTHS.iter().map(|&l| l as i32).collect());
    (x, fed.unwrap(), lengths.unwrap())
}

/// Runs `c` through both readers and checks what `c.expect` says.
fn check(c: &Case) {
    let (m, path) = (build(c), Path::new("agree.onnx"));
    let imported = import::from_model::<f32>(&m, path);
    let runtime = OnnxModel::<f32>::from_model(&m, path);
    match (c.expect, imported, runtime) {
        (Expect::Both, Ok(w), Ok(rt)) => agree_numerically(c, &w, &rt),
        (Expect::RuntimeOnly(option), Err(Error::NotRepresentable { option: o, .. }), Ok(rt)) => {
            assert_eq!(o, option, "{}", c.name);
            let (_, x, l) = inputs(c);
            rt.run(&[("X", x), ("sequence_lens", l)]).unwrap();
        }
        (Expect::Neither(needle), Err(a), Err(b)) => {
            assert_eq!(a, b, "{}: the importer and the runtime refuse with different errors", c.name);
            assert!(
                matches!(&a, Error::Onnx { node, reason, .. } if node == "gru_l0 (GRU)" && reason.contains(needle)),
                "{}: {a}",
                c.name
            );
        }
        (e, a, b) => panic!("{}: expected {e:?}; importer {:?}, runtime {:?}", c.name, a.err(), b.err()),
    }
}

/// The importer's stack in our engine against the runtime: Y and the top layer's Y_h.
fn agree_numerically(c: &Case, w: &crate::convert::GruWeights<f32>, rt: &OnnxModel<f32>) {
    assert_eq!(w.spec.depth, c.depth, "{}", c.name);
    let (x, fed, lengths) = inputs(c);
    let ours = verify::run_ours(w, &x, T, B, Some(&LENGTHS), OutputMode::Sequence).unwrap();
    let out = rt.run(&[("X", fed), ("sequence_lens", lengths)]).unwrap();
    let get = |n: &str| out.iter().find(|(k, _)| k == n).unwrap().1.to_f64();
    let (y, yh) = (get("Y"), get("Y_h"));
    let dirs = c.dirs;
    let mut worst = 0.0f64;
    for t in 0..T {
        for b in 0..B {
            for d in 0..dirs {
                for k in 0..H {
                    // ours y [T, B, dirs·H]; theirs [T, dirs, B, H] or [B, T, dirs, H].
                    let theirs =
                        if c.batch_major { ((b * T + t) * dirs + d) * H + k } else { ((t * dirs + d) * B + b) * H + k };
                    let a = f64::from(ours.y[(t * B + b) * dirs * H + d * H + k]);
                    worst = worst.max((a - y[theirs]).abs());
                    if t == 0 {
                        // ours h_T [depth·dirs, B, H]; theirs [dirs, B, H] or [B, dirs, H].
                        let theirs = if c.batch_major { (b * dirs + d) * H + k } else { (d * B + b) * H + k };
                        let a = f64::from(ours.h_t[(((c.depth - 1) * dirs + d) * B + b) * H + k]);
                        worst = worst.max((a - yh[theirs]).abs());
                    }
                }
            }
        }
    }
    println!("{}: worst |importer - runtime| = {worst:.1e}", c.name);
    assert!(worst <= 1e-6, "{}: |importer - runtime| = {worst:e}", c.name);
    assert!(y.iter().any(|&v| v != 0.0), "{}: all-zero outputs prove nothing", c.name);
}

#[test]
fn the_importer_and_the_runtime_agree_on_every_attribute_value() {
    for c in cases() {
        check(&c);
    }
}

#[test]
fn a_stack_whose_layers_differ_runs_but_does_not_import() {
    let mut c = Case { depth: 2, ..case("layers differ", vec![], Expect::RuntimeOnly("clip")) };
    let mut m = build(&c);
    let g = m.graph.as_mut().unwrap();
    g.node.iter_mut().find(|n| n.name == "gru_l1").unwrap().attribute.push(attr_float("clip", 2.0));
    let e = import::from_model::<f32>(&m, Path::new("m.onnx")).unwrap_err();
    assert!(matches!(e, Error::NotRepresentable { ref option, .. } if option == "clip"), "{e}");
    let (_, x, l) = inputs(&c);
    OnnxModel::<f32>::from_model(&m, Path::new("m.onnx")).unwrap().run(&[("X", x), ("sequence_lens", l)]).unwrap();
    // Without the difference both read it.
    c.expect = Expect::Both;
    check(&c);
}
