//! `gru stream` driven through a pipe as a shell pipeline would: each output line is read
//! before the next frame is written (so it must have been flushed), and each equals the
//! library's prediction for that stream's frames so far (the model is sequence-to-one:
//! the prediction of the sequence ending at this frame).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::{root, small_model};
use gru::Network;

/// The model's output for `frames` (one channel) as one sequence.
fn predict(net: &mut Network<f32>, frames: &[f32]) -> Vec<f32> {
    net.forward(frames, frames.len(), &[frames.len()], None, None).unwrap().output
}

#[test]
fn stream_answers_each_frame_at_once_and_equals_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let mut net = Network::<f32>::load(&model).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gru"))
        .args(["stream", "--model", model.to_str().unwrap()])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut history: std::collections::HashMap<&str, Vec<f32>> = Default::default();
    let script: [(&str, Option<f32>); 8] = [
        ("mic1", Some(0.1)),
        ("mic2", Some(-0.4)),
        ("mic1", Some(0.4)),
        ("reset", None),
        ("mic1", Some(0.7)),
        ("mic2", Some(-0.9)),
        ("mic1", Some(1.0)),
        ("mic2", Some(-1.3)),
    ];
    for (i, &(name, value)) in script.iter().enumerate() {
        let Some(v) = value else {
            // `reset mic1`: mic1 starts over.
            writeln!(stdin, "reset mic1").unwrap();
            history.remove("mic1");
            continue;
        };
        writeln!(stdin, "{name} {v}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(name), "line {i}: {line:?}");
        let got: Vec<f32> = words.map(|w| w.parse().unwrap()).collect();
        let h = history.entry(name).or_default();
        h.push(v);
        let want = predict(&mut net, h);
        assert_eq!(got.len(), net.output_width(), "{line:?}");
        for (j, (&g, &w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-6 * (1.0 + w.abs()), "frame {i} of {name} [{j}]: {g} vs library {w}");
        }
    }
    // A bad line is reported with its number and changes nothing; the exit status says so.
    writeln!(stdin, "mic1 1 2").unwrap();
    writeln!(stdin, "mic2 0.5").unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(rest.lines().count(), 1, "{rest:?}");
    assert!(rest.starts_with("mic2 "), "{rest:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 9") && stderr.contains("1 values"), "{stderr}");
    assert!(!out.status.success());
}

#[test]
fn stream_refuses_a_missing_model() {
    let out = common::gru(&["stream", "--model", "no/such/model.safetensors"]);
    let err = common::fails(&out);
    assert!(err.contains("no/such/model.safetensors") && err.contains("cannot read"), "{err}");
}
