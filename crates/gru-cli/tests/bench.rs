//! `gru bench` as a user runs it: the interleaved table with its spread lines and run
//! delay, the GEMM peak line, and the Python worker's PyTorch and onnxruntime columns.

mod common;

use std::process::Command;

use common::{fails, gru_with, ok};

/// The same threads as CI: two for everyone, OpenMP's idle threads asleep.
const THREADS: [(&str, &str); 3] =
    [("RAYON_NUM_THREADS", "2"), ("OMP_NUM_THREADS", "2"), ("OMP_WAIT_POLICY", "passive")];

fn bench(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = THREADS.to_vec();
    all.extend_from_slice(env);
    ok(&gru_with(&[&["bench"][..], args].concat(), &all))
}

/// The line of `shape` in `mode`, and the spread line below it.
fn row<'a>(text: &'a str, shape: &str, mode: &str) -> (&'a str, &'a str) {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.starts_with(shape) && l[shape.len()..].trim_start().starts_with(mode))
        .unwrap_or_else(|| panic!("no {shape} {mode} row in:\n{text}"));
    (lines[i], lines[i + 1])
}

/// The cells of a row after its shape and mode (OneDNN's "(1t)" is a cell of its own).
fn cells(line: &str) -> Vec<&str> {
    line.split_whitespace().skip(4).collect()
}

/// The cells of a spread line after its label.
fn spreads(line: &str) -> Vec<&str> {
    line.split_whitespace().skip(1).collect()
}

fn is_ms(cell: &str) -> bool {
    cell.parse::<f64>().is_ok_and(|v| v > 0.0)
}

fn is_ratio(cell: &str) -> bool {
    cell.strip_suffix('x').is_some_and(|v| v.parse::<f64>().is_ok_and(|v| v > 0.0))
}

fn is_percent(cell: &str) -> bool {
    cell.strip_suffix('%').is_some_and(|v| v.parse::<f64>().is_ok_and(|v| v >= 0.0))
}

#[test]
fn the_table_has_medians_spreads_peak_and_run_delay() {
    // A small GEMM peak (the 2048³ one is for release builds).
    let text = bench(&["--shapes", "6", "--runs", "3", "--engine", "Korali", "--peak-size", "128"], &[]);
    assert!(text.contains("threads: 2 (from RAYON_NUM_THREADS) for every contestant"), "{text}");
    assert!(text.contains("3 interleaved rounds after a warm-up of at least 3 calls and 100 ms"), "{text}");
    let peak = text.lines().find(|l| l.starts_with("GEMM peak at 128^3 on 2 threads")).expect(&text);
    assert!(peak.contains("faer ") && peak.contains("our panel kernel ") && peak.contains("; peak = "), "{peak}");
    assert!(peak.contains("oneDNN dnnl_sgemm ") && !peak.contains("torch.mm"), "{peak}");
    let header = text.lines().find(|l| l.starts_with("shape")).expect(&text);
    let heads = [
        "Korali ms",
        "1t ms",
        "GF/s",
        "%peak",
        "OneDNN ms",
        "PyTorch ms",
        "ORT ms",
        "vs OneDNN",
        "vs PyTorch",
        "vs ORT",
        "train MB ours/PT",
        "run delay",
    ];
    let mut at = 0;
    for h in heads {
        let i = header[at..].find(h).unwrap_or_else(|| panic!("{h} (in order) in {header}"));
        at += i + h.len();
    }
    for mode in ["inference", "training"] {
        let (line, spread) = row(&text, "B4 T100 H512", mode);
        let c = cells(line);
        // Korali ms, 1t ms, GF/s, %peak, then OneDNN's and the peers' "-" (--engine Korali, no --compare).
        assert!(is_ms(c[0]) && is_ms(c[1]) && is_ms(c[2]) && is_percent(c[3]), "{line}");
        assert_eq!(&c[4..10], ["-"; 6], "{line}");
        let delay = *c.last().unwrap();
        if cfg!(target_os = "linux") {
            assert!(is_percent(delay) || line.contains("% noisy ("), "{line}");
        }
        if mode == "training" {
            assert!(line.contains(" / -"), "ours / PyTorch's training MB: {line}");
        }
        // The spread of Korali and of its 1-thread run, under their columns.
        let s = spreads(spread);
        assert!(spread.starts_with("  spread") && is_percent(s[0]) && is_percent(s[1]) && s.len() == 2, "{spread}");
        let end = |l: &str, cell: &str| l.find(cell).unwrap() + cell.len();
        assert_eq!(end(spread, s[0]), end(header, "Korali ms"), "{header}\n{spread}");
        assert_eq!(end(line, c[0]), end(header, "Korali ms"), "{header}\n{line}");
    }
}

#[test]
fn onednn_runs_in_the_rounds_when_installed() {
    if gru_onednn::OneDnnEngine::load().is_err() {
        assert_ne!(std::env::var("GRU_REQUIRE_ONEDNN").as_deref(), Ok("1"), "libdnnl is missing");
        eprintln!("skipped: oneDNN is not installed");
        return;
    }
    let text = bench(&["--shapes", "0", "--runs", "2", "--peak", "100"], &[]);
    assert!(text.contains("GEMM peak: 100 GF/s (given by --peak; no GEMM measured)"), "{text}");
    let (line, spread) = row(&text, "B1 T100 H256", "inference");
    let c = cells(line);
    // OneDNN ms "(1t)" or "(2t)", its ratio; the peers "-".
    assert!(is_ms(c[4]) && (c[5] == "(1t)" || c[5] == "(2t)"), "{line}");
    assert!(c[6] == "-" && c[7] == "-" && is_ratio(c[8]) && c[9] == "-" && c[10] == "-", "{line}");
    assert_eq!(spreads(spread).len(), 4, "Korali, 1t, OneDNN and its ratio: {spread}");
}

#[test]
fn bad_shapes_engines_and_runs_are_refused() {
    let err = fails(&gru_with(&["bench", "--shapes", "0,99"], &THREADS));
    assert!(err.contains("--shapes: there is no shape 99; the reference shapes are 0..=6"), "{err}");
    let err = fails(&gru_with(&["bench", "--engine", "Torchy"], &THREADS));
    assert!(err.contains("--engine: no engine is named \"Torchy\"; the engines are Korali, OneDNN"), "{err}");
    let err = fails(&gru_with(&["bench", "--runs", "0"], &THREADS));
    assert!(err.contains("--runs"), "{err}");
    // --torch results.json is gone: PyTorch takes part in the rounds (--compare).
    let err = fails(&gru_with(&["bench", "--torch", "t.json"], &THREADS));
    assert!(err.contains("--torch"), "{err}");
}

#[test]
fn compare_without_python_says_so_and_still_times_ours() {
    let text = bench(
        &["--compare", "--shapes", "0", "--runs", "1", "--engine", "Korali", "--peak", "100"],
        &[("GRU_PYTHON", "/nonexistent/python3")],
    );
    assert!(
        text.contains("note: PyTorch and onnxruntime columns: - (the Python worker (/nonexistent/python3 tools/bench_worker.py) cannot be started"),
        "{text}"
    );
    assert!(text.contains("pip install -r tools/requirements.txt"), "{text}");
    let (line, _) = row(&text, "B1 T100 H256", "inference");
    assert!(is_ms(cells(line)[0]) && cells(line)[6] == "-", "{line}");
}

/// The Python that has torch, onnx and onnxruntime, or None (skipped with a notice,
/// unless GRU_REQUIRE_PYTHON=1 makes that a failure).
fn python_with_peers() -> Option<String> {
    let python = std::env::var("GRU_PYTHON").unwrap_or_else(|_| "python3".into());
    let ready = Command::new(&python)
        .args(["-c", "import torch, numpy, onnx, onnxruntime"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        assert_ne!(std::env::var("GRU_REQUIRE_PYTHON").as_deref(), Ok("1"), "{python} lacks torch/onnx/onnxruntime");
        eprintln!("skipped: {python} with torch, onnx and onnxruntime is not available");
        return None;
    }
    Some(python)
}

#[test]
fn compare_times_pytorch_and_onnxruntime_in_the_rounds() {
    let Some(python) = python_with_peers() else { return };
    let text = bench(
        &["--compare", "--shapes", "0", "--runs", "2", "--engine", "Korali", "--peak-size", "256"],
        &[("GRU_PYTHON", &python)],
    );
    assert!(text.contains("peers: PyTorch ") && text.contains(", onnxruntime "), "{text}");
    let peak = text.lines().find(|l| l.starts_with("GEMM peak at 256^3")).expect(&text);
    let torch_mm = peak.split("PyTorch torch.mm ").nth(1).expect(peak);
    assert!(torch_mm.split(';').next().unwrap().parse::<f64>().is_ok_and(|v| v > 0.0), "{peak}");
    let (line, spread) = row(&text, "B1 T100 H256", "inference");
    let c = cells(line);
    // OneDNN "-" (--engine Korali); PyTorch and ORT ms; their ratios.
    assert!(c[4] == "-" && is_ms(c[5]) && is_ms(c[6]), "{line}");
    assert!(c[7] == "-" && is_ratio(c[8]) && is_ratio(c[9]), "{line}");
    assert_eq!(spreads(spread).len(), 6, "Korali, 1t, PyTorch, ORT and both ratios: {spread}");
    // Training: PyTorch only (onnxruntime runs inference), and its peak memory.
    let (line, _) = row(&text, "B1 T100 H256", "training");
    let c = cells(line);
    assert!(is_ms(c[5]) && c[6] == "-" && is_ratio(c[8]) && c[9] == "-", "{line}");
    let memory = line.split(" / ").nth(1).and_then(|m| m.split_whitespace().next()).expect(line);
    assert!(memory.parse::<f64>().is_ok(), "PyTorch's training MB in {line}");
    assert!(!text.contains("note:"), "{text}");
}

#[test]
fn a_peer_that_cannot_run_a_mode_is_noted_and_the_others_go_on() {
    let Some(python) = python_with_peers() else { return };
    let text = bench(
        &[
            "--compare",
            "--shapes",
            "0",
            "--runs",
            "2",
            "--engine",
            "Korali",
            "--peak",
            "100",
            "--mode",
            "before-multiplication",
        ],
        &[("GRU_PYTHON", &python)],
    );
    assert!(
        text.contains(
            "note: PyTorch: RuntimeError: PyTorch's nn.GRU has no before-multiplication mode (its cells show -)"
        ),
        "{text}"
    );
    // onnxruntime runs it (linear_before_reset = 0); the failed peer does not blank the run delay.
    let (line, _) = row(&text, "B1 T100 H256", "inference");
    let c = cells(line);
    assert!(c[5] == "-" && is_ms(c[6]) && is_ratio(c[9]), "{line}");
    if cfg!(target_os = "linux") {
        assert!(!line.ends_with("n/a"), "{line}");
    }
}

#[test]
fn the_worker_answers_the_protocol() {
    let Some(python) = python_with_peers() else { return };
    use std::io::Write;
    let mut child = Command::new(&python)
        .args(["tools/bench_worker.py", "--threads", "1"])
        .current_dir(common::root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let requests = [
        r#"{"op": "hello"}"#,
        r#"{"shape": "B2 T3 H4", "mode": "inference", "peer": "torch"}"#,
        r#"{"op": "prepare", "shape": "B2 T3 H4", "mode": "inference", "peer": "onnxruntime", "reset": "before-multiplication"}"#,
        r#"{"shape": "B2 T3 H4", "mode": "training", "peer": "onnxruntime"}"#,
        r#"{"shape": "B2 T3 H4", "mode": "training", "peer": "torch", "reset": "before-multiplication"}"#,
        r#"{"peer": "torch", "gemm": 8}"#,
        r#"{"shape": "B2 T3", "mode": "inference", "peer": "torch"}"#,
        "not json",
        r#"{"op": "release"}"#,
    ];
    child.stdin.take().unwrap().write_all((requests.join("\n") + "\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let answers: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(answers.len(), requests.len(), "one answer per request, nothing else on stdout:\n{text}");
    assert_eq!(answers[0]["threads"], 1);
    assert!(answers[0]["torch"].is_string() && answers[0]["onnxruntime"].is_string(), "{}", answers[0]);
    assert!(answers[1]["ms"].as_f64().is_some_and(|v| v > 0.0), "{}", answers[1]);
    assert_eq!(answers[2], serde_json::json!({"ok": true}));
    assert_eq!(answers[3]["error"], "RuntimeError: onnxruntime runs inference only");
    assert_eq!(answers[4]["error"], "RuntimeError: PyTorch's nn.GRU has no before-multiplication mode");
    assert!(answers[5]["ms"].as_f64().is_some(), "{}", answers[5]);
    assert!(answers[6]["error"].as_str().unwrap().contains("'B2 T3' is not of the form"), "{}", answers[6]);
    assert!(answers[7]["error"].as_str().unwrap().starts_with("JSONDecodeError"), "{}", answers[7]);
    assert_eq!(answers[8], serde_json::json!({"ok": true}));
}

/// The training peak of B64 T50 H512 (`--memory-one 2`) in units of `U = T·B·H` f32 values
/// (6.25 MiB): the forward trace (gates, operand, states: 5U), y, dx and the kept input
/// (3U), the parameter gradients (1U at this shape) and the products' packing; the batch
/// split adds its parts' gathered dy and the scattered y and dx. Measured 12.1U on one
/// thread and 14.5U on two; before the gate gradients were written over the trace and the
/// parts shared one set of parameter gradients, 17.1U and 19.7U.
#[test]
fn training_memory_is_the_trace_not_copies_of_it() {
    let u_mb = (50 * 64 * 512 * 4) as f64 / (1 << 20) as f64;
    for threads in ["1", "2"] {
        let env = [("RAYON_NUM_THREADS", threads), ("OMP_NUM_THREADS", threads)];
        let out = ok(&gru_with(&["bench", "--memory-one", "2"], &env));
        let Ok(mb) = out.trim().parse::<f64>() else {
            eprintln!("skipped: no peak memory on this system ({out})");
            return;
        };
        assert!(mb / u_mb < 16.0, "{threads} threads: training peak {mb:.1} MB = {:.1} U", mb / u_mb);
    }
}

/// `gru bench --stream`: one row per (B, H) of the streaming step, ours timed in
/// microseconds beside the read floor of its weights; without --compare the peers' cells
/// are `-`.
#[test]
fn bench_stream_times_one_step_per_shape() {
    let text = bench(&["--stream", "--runs", "1"], &[]);
    let rows: Vec<&str> = text.lines().filter(|l| l.contains('|') && !l.contains("Korali")).collect();
    assert_eq!(rows.len(), 6, "{text}");
    for (row, (b, h)) in rows.iter().zip([(1, 128), (1, 256), (1, 512), (16, 128), (16, 256), (16, 512)]) {
        let cells: Vec<&str> = row.split_whitespace().filter(|c| *c != "|").collect();
        assert_eq!((cells[0], cells[1]), (b.to_string().as_str(), h.to_string().as_str()), "{row}");
        let ours: f64 = cells[2].parse().unwrap_or_else(|_| panic!("ours in {row}"));
        assert!(ours > 0.0 && ours < 1e6, "{row}");
        // The read floor of the step's weights: a time, under ours.
        let floor: f64 = cells[4].parse().unwrap_or_else(|_| panic!("floor in {row}"));
        assert!(floor > 0.0 && floor < ours * 4.0, "{row}");
        assert_eq!(&cells[5..8], ["-", "-", "-"], "{row}");
    }
}
