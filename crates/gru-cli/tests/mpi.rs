//! `gru train --distributed` under `mpirun`: N ranks train the model of one process with the
//! same global batch and seed (DESIGN.md, "Data parallel"), and a rank that dies ends the job
//! with an error naming it. Built with the feature `mpi`; without `mpirun` the tests skip with
//! a notice, unless GRU_REQUIRE_MPI=1 (set by .ci/run) makes that a failure. In a build without
//! the feature, `--distributed` must say how to get it.

mod common;

#[cfg(not(feature = "mpi"))]
use common::*;

#[cfg(not(feature = "mpi"))]
#[test]
fn distributed_without_the_mpi_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.ts");
    std::fs::write(&data, two_class_ts("a b")).unwrap();
    let out = dir.path().join("m.safetensors");
    let err =
        fails(&gru(&["train", "--distributed", "--train", data.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    assert!(err.contains("--distributed") && err.contains("--features mpi") && err.contains("mpirun"), "{err}");
    assert!(!out.exists());
}

#[cfg(feature = "mpi")]
mod under_mpirun {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};
    use std::time::{Duration, Instant};

    use super::common::*;

    /// Whether `mpirun` runs here; otherwise a notice (a failure under GRU_REQUIRE_MPI=1).
    fn mpirun_here() -> bool {
        let found = Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("notice: mpirun is not installed (Debian: openmpi-bin libopenmpi-dev); the MPI tests skip");
            assert_ne!(std::env::var("GRU_REQUIRE_MPI").as_deref(), Ok("1"), "mpirun is missing");
        }
        found
    }

    /// `mpirun -n ranks gru args...`, one thread per rank (as root in containers: the flags
    /// and the shared-memory setting OpenMPI needs there).
    fn mpirun(ranks: usize, args: &[&str]) -> Command {
        let mut c = Command::new("mpirun");
        c.args(["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-n", &ranks.to_string()])
            .arg(env!("CARGO_BIN_EXE_gru"))
            .args(args)
            .current_dir(root())
            .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
            .env("OMP_NUM_THREADS", "1")
            .env("RAYON_NUM_THREADS", "1")
            .env_remove("RUST_BACKTRACE");
        c
    }

    fn params(path: &Path) -> Vec<f64> {
        let net = gru::Network::<f64>::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        net.params_flat()
    }

    fn params_f32(path: &Path) -> Vec<f64> {
        let net = gru::Network::<f32>::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        net.params_flat().into_iter().map(f64::from).collect()
    }

    /// Every element within `tol·(1 + |ref|)` of the reference (DESIGN.md's rule); returns the
    /// largest difference.
    fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) -> f64 {
        assert_eq!(got.len(), want.len(), "{what}: parameter count");
        let mut worst = 0.0f64;
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let d = (g - w).abs();
            assert!(d <= tol * (1.0 + w.abs()), "{what}: parameter {i} is {g}, one process gave {w}");
            worst = worst.max(d);
        }
        worst
    }

    /// The first `rows` sequences of the HalfLife regression set (2 channels, 100 steps).
    fn halflife(dir: &Path, rows: usize) -> PathBuf {
        let text = std::fs::read_to_string(root().join("data/regression/HalfLife_TRAIN.ts")).unwrap();
        let (head, data) = text.split_once("@data\n").unwrap();
        let body: Vec<&str> = data.lines().take(rows).collect();
        let path = dir.join("halflife.ts");
        std::fs::write(&path, format!("{head}@data\n{}\n", body.join("\n"))).unwrap();
        path
    }

    /// `gru args...` in one process on one thread, as each rank runs (the engine's thread
    /// split changes the order of its sums).
    fn gru_1t(args: &[&str]) -> Output {
        gru_with(args, &[("OMP_NUM_THREADS", "1"), ("RAYON_NUM_THREADS", "1")])
    }

    /// Trains `args` (plus `--out`) in one process and on 1 and 2 ranks; returns the three
    /// models' parameters.
    fn one_vs_ranks(dir: &Path, name: &str, args: &[&str]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let single = dir.join(format!("{name}-single.safetensors"));
        let mut a = args.to_vec();
        a.extend(["--out", single.to_str().unwrap()]);
        ok(&gru_1t(&a));
        let mut models = Vec::new();
        for ranks in [1, 2] {
            let out = dir.join(format!("{name}-{ranks}.safetensors"));
            let mut a = vec!["train", "--distributed"];
            a.extend(&args[1..]);
            a.extend(["--out", out.to_str().unwrap()]);
            ok(&mpirun(ranks, &a).output().unwrap());
            models.push(params(&out));
        }
        let two = models.pop().unwrap();
        (params(&single), models.pop().unwrap(), two)
    }

    #[test]
    fn two_ranks_train_the_model_of_one_process() {
        if !mpirun_here() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.ts");
        std::fs::write(&data, two_class_ts("a b")).unwrap();
        let validation = dir.path().join("v.ts");
        std::fs::write(&validation, two_class_ts("b a")).unwrap();
        let d = data.to_str().unwrap();
        // Classification (the mean over N sequences), 24 sequences in minibatches of 7: 4 + 3
        // per rank, the last one 3 sequences (2 + 1); chunks of 4 steps (truncated BPTT: the
        // states carried per rank); validation (rank 0's loss decides).
        let args = [
            "train",
            "--train",
            d,
            "--validation",
            validation.to_str().unwrap(),
            "--validation-frequency",
            "2",
            "--dtype",
            "f64",
            "--hidden",
            "5",
            "--epochs",
            "3",
            "--batch-size",
            "7",
            "--sequence-length",
            "4",
            "--seed",
            "7",
            "--quiet",
        ];
        let (single, one, two) = one_vs_ranks(dir.path(), "classes", &args);
        assert_eq!(one, single, "one rank is one process, bit for bit");
        let worst = assert_close(&two, &single, 1e-9, "2 ranks, classification");
        eprintln!("classification: 2 ranks within {worst:.1e} of one process");
        // The last two epochs moved the weights far more than the tolerance: the comparison is
        // not one of models that stopped learning.
        let first = dir.path().join("first-epoch.safetensors");
        let mut a = args.to_vec();
        let epochs = a.iter().position(|&v| v == "--epochs").unwrap() + 1;
        a[epochs] = "1";
        a.extend(["--out", first.to_str().unwrap()]);
        ok(&gru_1t(&a));
        let moved = params(&first).iter().zip(&single).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(moved > 1e-3, "two epochs moved no weight ({moved})");

        // Regression (the mean over N·R responses), sgdm with a gradient threshold.
        let h = halflife(dir.path(), 21);
        let args = [
            "train",
            "--train",
            h.to_str().unwrap(),
            "--dtype",
            "f64",
            "--hidden",
            "6",
            "--epochs",
            "2",
            "--batch-size",
            "10",
            "--solver",
            "sgdm",
            "--gradient-threshold",
            "0.5",
            "--seed",
            "3",
            "--quiet",
        ];
        let (single, one, two) = one_vs_ranks(dir.path(), "regression", &args);
        assert_eq!(one, single, "one rank is one process, bit for bit");
        let worst = assert_close(&two, &single, 1e-9, "2 ranks, regression");
        eprintln!("regression: 2 ranks within {worst:.1e} of one process");
    }

    #[test]
    fn a_run_resumed_on_two_ranks_continues_as_one_process() {
        if !mpirun_here() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.ts");
        std::fs::write(&data, two_class_ts("a b")).unwrap();
        let d = data.to_str().unwrap();
        let common = ["--train", d, "--dtype", "f64", "--hidden", "4", "--batch-size", "5", "--seed", "11", "--quiet"];
        let single = dir.path().join("single.safetensors");
        let mut a = vec!["train", "--epochs", "3", "--out", single.to_str().unwrap()];
        a.extend(common);
        ok(&gru_1t(&a));
        // Two epochs on two ranks with a checkpoint (rank 0 writes it), then the third one
        // resumed from it: Adam's moments and step count must reach both ranks.
        let (checkpoint, two) = (dir.path().join("c.safetensors"), dir.path().join("two.safetensors"));
        let (c, t) = (checkpoint.to_str().unwrap(), two.to_str().unwrap());
        let mut a = vec!["train", "--distributed", "--epochs", "2", "--checkpoint", c, "--out", t];
        a.extend(common);
        ok(&mpirun(2, &a).output().unwrap());
        let mut a = vec!["train", "--distributed", "--resume", c, "--epochs", "3", "--out", t];
        a.extend(common);
        ok(&mpirun(2, &a).output().unwrap());
        let worst = assert_close(&params(&two), &params(&single), 1e-9, "resumed on 2 ranks");
        eprintln!("resumed on 2 ranks: within {worst:.1e} of one process");
    }

    #[test]
    fn a_korali_experiment_splits_its_minibatch_across_ranks() {
        if !mpirun_here() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut exp: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("examples/korali/sine_rnn_experiment.json")).unwrap(),
        )
        .unwrap();
        exp["Solver"]["Termination Criteria"]["Max Generations"] = serde_json::json!(2);
        exp["Solver"]["Steps Per Generation"] = serde_json::json!(3);
        exp["Problem"]["Training Batch Size"] = serde_json::json!(51);
        exp["Solver"]["Learning Rate"] = serde_json::json!(0.01);
        let path = dir.path().join("exp.json");
        std::fs::write(&path, exp.to_string()).unwrap();
        let single = dir.path().join("single.safetensors");
        let text = ok(&gru_1t(&["train", "--experiment", path.to_str().unwrap(), "--out", single.to_str().unwrap()]));
        let loss = |text: &str| -> Vec<f64> {
            text.lines()
                .filter_map(|l| l.split("+ Training Loss: ").nth(1))
                .map(|v| v.trim().parse().unwrap())
                .collect()
        };
        let two = dir.path().join("two.safetensors");
        let out = ok(&mpirun(
            2,
            &["train", "--distributed", "--experiment", path.to_str().unwrap(), "--out", two.to_str().unwrap()],
        )
        .output()
        .unwrap());
        // Rank 0 alone prints: two generations, the global batch's loss.
        let (want, got) = (loss(&text), loss(&out));
        assert_eq!(got.len(), 2, "{out}");
        assert_close(&got, &want, 1e-4, "the loss of each generation");
        let worst = assert_close(&params_f32(&two), &params_f32(&single), 1e-4, "2 ranks, Korali experiment (f32)");
        eprintln!("Korali experiment (f32): 2 ranks within {worst:.1e} of one process");
    }

    /// The process ids of `parent`'s children that are MPI rank `rank`.
    fn rank_pids(parent: u32, rank: usize) -> Vec<u32> {
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...
            let ppid = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let is_rank = env.split(|&b| b == 0).any(|v| v == format!("OMPI_COMM_WORLD_RANK={rank}").as_bytes());
            if ppid == Some(parent) && is_rank {
                pids.push(pid);
            }
        }
        pids
    }

    #[test]
    fn a_rank_that_dies_ends_the_job_with_an_error_naming_it() {
        if !mpirun_here() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let h = halflife(dir.path(), 40);
        let out = dir.path().join("m.safetensors");
        let mut cmd = mpirun(
            2,
            &[
                "train",
                "--distributed",
                "--train",
                h.to_str().unwrap(),
                "--hidden",
                "32",
                "--epochs",
                "100000",
                "--batch-size",
                "8",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Wait until rank 1 is up and training (a few iterations), then kill it.
        let started = Instant::now();
        let victim = loop {
            let pids = rank_pids(child.id(), 1);
            if let Some(&pid) = pids.first() {
                break pid;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "rank 1 never started");
            assert!(child.try_wait().unwrap().is_none(), "mpirun ended before rank 1 started");
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_secs(2));
        assert!(child.try_wait().unwrap().is_none(), "the job ended before rank 1 was killed");
        assert!(Command::new("kill").args(["-KILL", &victim.to_string()]).status().unwrap().success());
        let killed = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if killed.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let Output { stdout, stderr, .. } = child.wait_with_output().unwrap();
                panic!(
                    "the job hangs 60 s after rank 1 died:\n{}\n{}",
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let Output { stdout, stderr, .. } = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
        assert!(!status.success(), "{text}");
        assert!(text.contains("rank 1"), "the error does not name rank 1:\n{text}");
        assert!(!out.exists(), "a model was written by a job that lost a rank");
        let line = text.lines().find(|l| l.contains("rank 1")).unwrap_or_default();
        eprintln!("ended {:.1} s after rank 1 died: {line}", killed.elapsed().as_secs_f64());
    }
}
