//! Size and speed of generated code (BENCHMARKS.md, "Generated code"):
//!
//! ```text
//! cargo run --release -p gru --example codegen_bench
//! ```
//!
//! For H = 64, 128, 256 (network `input(32) -> GRU(H) -> fully connected(8)`): the bytes of
//! weights and of machine code of the generated C compiled with `cc -std=c99 -O2` (`size -A`
//! of the object: `.rodata` and `.text`), the time of one `model_step` (C at -O2, and the
//! no_std Rust crate at cargo's release profile), and the native engine's time per step:
//! one `Network::forward` of one frame (B = 1, T = 1), and a T = 100 forward divided by 100.
//! Each time is the median of 7 rounds. Needs `cc` (or `$CC`) and cargo.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use gru::codegen::{generate, plan_of, verify::c_compiler, write_files, CodegenOptions, Target};
use gru::layers;
use gru::network::{fully_connected, gru, regression, sequence_input, Network};

const INPUT: usize = 32;
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(out.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(.text, .rodata)` bytes of an object file (`size -A`).
fn sections(object: &Path) -> Option<(u64, u64)> {
    let text = String::from_utf8(Command::new("size").arg("-A").arg(object).output().ok()?.stdout).ok()?;
    let get = |name: &str| {
        text.lines()
            .filter(|l| l.split_whitespace().next().is_some_and(|n| n == name || n.starts_with(&format!("{name}."))))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>()
    };
    Some((get(".text"), get(".rodata")))
}

const C_BENCH: &str = r#"#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
#include "model.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(void)
{
    static model_state s;
    static float x[64][MODEL_INPUT_SIZE], y[MODEL_OUTPUT_SIZE];
    double sink = 0;
    for (int i = 0; i < 64; ++i) for (int c = 0; c < MODEL_INPUT_SIZE; ++c) x[i][c] = (float)((i * 7 + c * 3) % 17) / 17.0f - 0.5f;
    model_reset(&s);
    for (int r = 0; r < ROUNDS; ++r) {
        const double t0 = now();
        for (int i = 0; i < STEPS; ++i) model_step(&s, x[i & 63], y);
        printf("%.9g\n", (now() - t0) / STEPS);
        sink += y[0];
    }
    fprintf(stderr, "%g\n", sink);
    return 0;
}
"#;

const RUST_BENCH: &str = r#"use std::time::Instant;
fn main() {
    let mut s = model::State::new();
    let mut x = [[0.0f32; model::INPUT_SIZE]; 64];
    for (i, row) in x.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = ((i * 7 + c * 3) % 17) as f32 / 17.0 - 0.5;
        }
    }
    let mut y = [0.0f32; model::OUTPUT_SIZE];
    let (rounds, steps): (usize, usize) = (std::env::args().nth(1).unwrap().parse().unwrap(), std::env::args().nth(2).unwrap().parse().unwrap());
    for _ in 0..rounds {
        let t0 = Instant::now();
        for i in 0..steps {
            model::step(&mut s, &x[i & 63], &mut y);
        }
        println!("{}", t0.elapsed().as_secs_f64() / steps as f64);
    }
    eprintln!("{}", y[0]);
}
"#;

fn main() {
    let cc = c_compiler().expect("a C compiler (cc or $CC)");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("| H | weights (bytes) | C code .text (bytes) | C model_step -O2 (µs) | no_std Rust step, release (µs) | native B=1 T=1 forward (µs) | native T=100 forward / 100 (µs) |");
    println!("|---|---|---|---|---|---|---|");
    for h in [64usize, 128, 256] {
        let mut net = Network::<f32>::new(layers![sequence_input(INPUT), gru(h), fully_connected(8), regression()], 1)
            .expect("a network");
        let plan = plan_of(&net, &CodegenOptions::default()).expect("a plan");
        let steps = (40_000_000 / (3 * h * (INPUT + h))).max(100);
        // C.
        let c_dir = dir.path().join(format!("c{h}"));
        write_files(&c_dir, &generate(&net, Target::C, &CodegenOptions::default()).expect("C")).expect("written");
        std::fs::write(c_dir.join("bench.c"), C_BENCH).expect("written");
        run(Command::new(&cc).args(["-std=c99", "-Wall", "-Werror", "-O2", "-c", "model.c"]).current_dir(&c_dir));
        run(Command::new(&cc)
            .args(["-std=c99", "-O2", &format!("-DROUNDS={ROUNDS}"), &format!("-DSTEPS={steps}"), "-o", "bench"])
            .args(["bench.c", "model.o", "-lm"])
            .current_dir(&c_dir));
        let c_step =
            median(run(&mut Command::new(c_dir.join("bench"))).lines().map(|l| l.parse().expect("a time")).collect());
        let (text, _rodata) = sections(&c_dir.join("model.o")).unwrap_or((0, 0));
        // no_std Rust, release.
        let r_dir = dir.path().join(format!("r{h}"));
        write_files(
            &r_dir.join("model"),
            &generate(&net, Target::RustNoStd, &CodegenOptions::default()).expect("Rust"),
        )
        .expect("written");
        let manifest = "[package]\nname = \"bench\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\nmodel = { path = \"model\" }\n\n[workspace]\n";
        std::fs::create_dir_all(r_dir.join("src")).expect("a folder");
        std::fs::write(r_dir.join("Cargo.toml"), manifest).expect("written");
        std::fs::write(r_dir.join("src/main.rs"), RUST_BENCH).expect("written");
        run(Command::new(&cargo).args(["build", "--release", "--offline", "--quiet"]).current_dir(&r_dir));
        let r_step = median(
            run(Command::new(r_dir.join("target/release/bench")).args([ROUNDS.to_string(), steps.to_string()]))
                .lines()
                .map(|l| l.parse().expect("a time"))
                .collect(),
        );
        // Native: one frame per call, and a T = 100 sequence per call.
        let mut time_native = |t: usize, calls: usize| {
            let x: Vec<f32> = (0..t * INPUT).map(|i| ((i * 7) % 17) as f32 / 17.0 - 0.5).collect();
            let _ = net.forward(&x, t, &[t], None, None).expect("a forward");
            median(
                (0..ROUNDS)
                    .map(|_| {
                        let t0 = Instant::now();
                        for _ in 0..calls {
                            std::hint::black_box(net.forward(&x, t, &[t], None, None).expect("a forward"));
                        }
                        t0.elapsed().as_secs_f64() / (calls * t) as f64
                    })
                    .collect(),
            )
        };
        let native_one = time_native(1, steps);
        let native_seq = time_native(100, (steps / 100).max(3));
        println!(
            "| {h} | {} | {text} | {:.2} | {:.2} | {:.2} | {:.2} |",
            4 * plan.num_weights(),
            c_step * 1e6,
            r_step * 1e6,
            native_one * 1e6,
            native_seq * 1e6
        );
    }
}
