//! The Rust end of the Python worker (`tools/bench_worker.py`, embedded in the binary):
//! PyTorch and onnxruntime timed one call at a time, so that they take their turn in the
//! rounds (`rounds.rs`). One JSON request per line on the worker's stdin, one JSON answer
//! per line on its stdout; the protocol is described in the script.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use gru::{Mode, ResetGateMode};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::rounds::Contestant;
use crate::Shape;

/// The worker script, embedded so that `gru bench` runs from any folder.
const SCRIPT: &str = include_str!("../../../tools/bench_worker.py");

/// A library the worker times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// PyTorch: `nn.GRU`, `torch.mm`.
    Torch,
    /// onnxruntime: one GRU node (inference only).
    OnnxRuntime,
}

impl Peer {
    /// The protocol's name.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Torch => "torch",
            Peer::OnnxRuntime => "onnxruntime",
        }
    }

    /// The table's name.
    pub fn label(self) -> &'static str {
        match self {
            Peer::Torch => "PyTorch",
            Peer::OnnxRuntime => "onnxruntime",
        }
    }
}

/// What a peer computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Task {
    /// One GRU layer of `shape` (I = H), inference or training, in a reset-gate mode.
    Gru { shape: Shape, mode: Mode, reset: ResetGateMode },
    /// One `n × n` f32 GEMM.
    Gemm { n: usize },
    /// One streaming step of `batch` streams, I = H = `hidden`, h carried from step to step
    /// (`crate::stream`): a timed call runs `steps` of them and answers per step.
    Step { batch: usize, hidden: usize, kind: StepKind, steps: usize },
}

/// How a peer runs one streaming step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// PyTorch `nn.GRUCell(x, h)`.
    Cell,
    /// PyTorch `nn.GRU` over one step, `(y, h) = gru(x[None], h)`.
    Gru,
    /// onnxruntime: a session of one GRU node over one step, `Y_h` fed back as `initial_h`.
    Session,
}

impl StepKind {
    /// The protocol's name.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Cell => "cell",
            StepKind::Gru => "gru",
            StepKind::Session => "session",
        }
    }

    /// The peer that runs it.
    pub fn peer(self) -> Peer {
        match self {
            StepKind::Cell | StepKind::Gru => Peer::Torch,
            StepKind::Session => Peer::OnnxRuntime,
        }
    }
}

/// A peer and what it computes: the key of one prepared model in the worker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Job {
    pub peer: Peer,
    pub task: Task,
}

/// A request of the protocol.
#[derive(Clone, Copy, Debug)]
pub enum Request<'a> {
    /// Which peers are there, on how many threads.
    Hello,
    /// Build and warm up a job's model.
    Prepare(&'a Job),
    /// One timed call.
    Time(&'a Job),
    /// Drop every prepared model.
    Release,
}

/// Which peers the worker could import: a version, or why not.
#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    pub threads: usize,
    pub torch: std::result::Result<String, String>,
    pub onnxruntime: std::result::Result<String, String>,
}

impl Hello {
    /// `peer`'s version, or why it cannot be imported.
    pub fn peer(&self, peer: Peer) -> std::result::Result<&str, &str> {
        match peer {
            Peer::Torch => self.torch.as_deref(),
            Peer::OnnxRuntime => self.onnxruntime.as_deref(),
        }
        .map_err(String::as_str)
    }
}

/// An answer of the protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Hello(Hello),
    Ok,
    /// Milliseconds of one timed call.
    Ms(f64),
    /// The worker's message: the request failed.
    Error(String),
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Inference => "inference",
        Mode::Training => "training",
    }
}

/// One request as the line the worker reads (without the newline).
pub fn request_line(request: &Request) -> String {
    let job = |op: &str, job: &Job| {
        let mut v = json!({"op": op, "peer": job.peer.name()});
        match job.task {
            Task::Gru { shape, mode, reset } => {
                v["shape"] = shape.name().into();
                v["mode"] = mode_name(mode).into();
                v["reset"] = serde_json::to_value(reset).unwrap_or(Value::Null);
            }
            Task::Gemm { n } => v["gemm"] = n.into(),
            Task::Step { batch, hidden, kind, steps } => {
                v["step"] = json!({"batch": batch, "hidden": hidden, "kind": kind.name(), "steps": steps});
            }
        }
        v
    };
    match request {
        Request::Hello => json!({"op": "hello"}),
        Request::Prepare(j) => job("prepare", j),
        Request::Time(j) => job("time", j),
        Request::Release => json!({"op": "release"}),
    }
    .to_string()
}

/// Parses one answer line of the worker.
pub fn parse_reply(line: &str) -> Result<Reply> {
    let bad = |reason: &str| Error::Protocol { line: line.trim_end().to_string(), reason: reason.into() };
    let v: Value = serde_json::from_str(line).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let obj = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
    if let Some(e) = obj.get("error") {
        return Ok(Reply::Error(e.as_str().map_or_else(|| e.to_string(), str::to_string)));
    }
    if let Some(ms) = obj.get("ms") {
        return match ms.as_f64() {
            Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(Reply::Ms(ms)),
            _ => Err(bad("\"ms\" is not a non-negative number")),
        };
    }
    if obj.get("ok") == Some(&Value::Bool(true)) {
        return Ok(Reply::Ok);
    }
    if let Some(threads) = obj.get("threads") {
        let threads = threads.as_u64().ok_or_else(|| bad("\"threads\" is not a count"))? as usize;
        let peer = |name: &str| match obj.get(name).and_then(Value::as_str) {
            Some(version) => Ok(version.to_string()),
            None => Err(obj
                .get("missing")
                .and_then(|m| m.get(name))
                .and_then(Value::as_str)
                .unwrap_or("not importable")
                .to_string()),
        };
        return Ok(Reply::Hello(Hello { threads, torch: peer("torch"), onnxruntime: peer("onnxruntime") }));
    }
    Err(bad("neither \"ms\", \"ok\", \"error\" nor \"threads\""))
}

/// A running worker: started once per `gru bench`, it keeps its prepared models until
/// [`Worker::release`].
pub struct Worker {
    python: String,
    threads: usize,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The script and the worker's stderr.
    dir: tempfile::TempDir,
    pub hello: Hello,
}

impl Worker {
    /// Starts `python tools/bench_worker.py --threads threads` and asks which peers it has.
    pub fn start(python: &str, threads: usize) -> Result<Self> {
        let fail = |reason: String| Error::Worker { python: python.to_string(), reason };
        let dir = tempfile::tempdir().map_err(|e| fail(format!("needs a temporary folder: {e}")))?;
        let script = dir.path().join("bench_worker.py");
        std::fs::write(&script, SCRIPT).map_err(|e| fail(format!("cannot be written: {e}")))?;
        let stderr = std::fs::File::create(dir.path().join("stderr.txt"))
            .map_err(|e| fail(format!("needs a file for its stderr: {e}")))?;
        let mut child = Command::new(python)
            .arg(&script)
            .args(["--threads", &threads.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| fail(format!("cannot be started: {e}")))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let Some(stdout) = stdout else { return Err(fail("has no stdout".into())) };
        let placeholder = Hello { threads, torch: Err(String::new()), onnxruntime: Err(String::new()) };
        let mut w = Self {
            python: python.to_string(),
            threads,
            child,
            stdin,
            stdout: BufReader::new(stdout),
            dir,
            hello: placeholder,
        };
        match w.ask(&Request::Hello)? {
            Reply::Hello(h) => w.hello = h,
            other => return Err(fail(format!("answered {other:?} to hello"))),
        }
        Ok(w)
    }

    /// The worker's process id (its threads are watched for run delay).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one request and reads its answer.
    pub fn ask(&mut self, request: &Request) -> Result<Reply> {
        let line = request_line(request) + "\n";
        let sent = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("its stdin is closed")),
        };
        let mut answer = String::new();
        let read = sent.and_then(|()| self.stdout.read_line(&mut answer));
        match read {
            Ok(n) if n > 0 => parse_reply(&answer),
            Ok(_) => Err(self.stopped("stopped".into())),
            Err(e) => Err(self.stopped(format!("cannot be reached ({e})"))),
        }
    }

    /// The error of a worker that stopped, with the end of its stderr.
    fn stopped(&mut self, what: String) -> Error {
        self.stdin = None;
        let status = self.child.wait().map(|s| format!(" ({s})")).unwrap_or_default();
        let mut stderr = String::new();
        let _ = std::fs::File::open(self.dir.path().join("stderr.txt")).and_then(|mut f| f.read_to_string(&mut stderr));
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Error::Worker {
            python: self.python.clone(),
            reason: format!("{what}{status}; its stderr ends with: {}", tail.join(" | ")),
        }
    }

    /// Asks for `request` and expects `Ok` or `Ms`; the worker's error message becomes
    /// [`Error::Peer`].
    fn expect(&mut self, request: &Request, peer: Peer) -> Result<Option<f64>> {
        match self.ask(request)? {
            Reply::Ok => Ok(None),
            Reply::Ms(ms) => Ok(Some(ms)),
            Reply::Error(message) => Err(Error::Peer { peer: peer.label().into(), message }),
            other => Err(Error::Protocol { line: format!("{other:?}"), reason: "unexpected answer".into() }),
        }
    }

    /// Builds and warms up `job`'s model.
    pub fn prepare(&mut self, job: &Job) -> Result<()> {
        self.expect(&Request::Prepare(job), job.peer).map(|_| ())
    }

    /// One timed call of `job` (prepared first if it was not).
    pub fn time(&mut self, job: &Job) -> Result<f64> {
        self.expect(&Request::Time(job), job.peer)?
            .ok_or_else(|| Error::Protocol { line: "{\"ok\": true}".into(), reason: "a time was asked for".into() })
    }

    /// Drops every prepared model (their memory goes back).
    pub fn release(&mut self) -> Result<()> {
        self.expect(&Request::Release, Peer::Torch).map(|_| ())
    }

    /// The MB one training call of PyTorch's `nn.GRU` of `shape` adds to the peak resident
    /// set, measured in a fresh Python process (as ours is, in a fresh process); None when
    /// that fails (not Linux, no torch).
    pub fn torch_training_memory_mb(&self, shape: Shape) -> Option<f64> {
        let out = Command::new(&self.python)
            .arg(self.dir.path().join("bench_worker.py"))
            .args(["--threads", &self.threads.to_string(), "--memory-one", &shape.name()])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).lines().last()?.trim().parse().ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // End of input ends the worker; a worker that does not end soon is killed.
        self.stdin = None;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(2) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A job of the worker as a contestant of the rounds.
pub struct WorkerRun<'a> {
    pub worker: &'a std::cell::RefCell<Worker>,
    pub job: Job,
}

impl Contestant for WorkerRun<'_> {
    fn warm_up(&mut self) -> Result<()> {
        self.worker.borrow_mut().prepare(&self.job)
    }

    fn time_once(&mut self) -> Result<f64> {
        self.worker.borrow_mut().time(&self.job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape { batch: 32, steps: 100, hidden: 256 };

    #[test]
    fn requests_name_the_peer_shape_mode_and_reset() {
        let job = Job {
            peer: Peer::Torch,
            task: Task::Gru {
                shape: SHAPE,
                mode: Mode::Inference,
                reset: ResetGateMode::RecurrentBiasAfterMultiplication,
            },
        };
        let v: Value = serde_json::from_str(&request_line(&Request::Time(&job))).unwrap();
        assert_eq!(
            v,
            json!({"op": "time", "peer": "torch", "shape": "B32 T100 H256", "mode": "inference",
                   "reset": "recurrent-bias-after-multiplication"})
        );
        let job = Job { peer: Peer::OnnxRuntime, task: Task::Gemm { n: 2048 } };
        let v: Value = serde_json::from_str(&request_line(&Request::Prepare(&job))).unwrap();
        assert_eq!(v, json!({"op": "prepare", "peer": "onnxruntime", "gemm": 2048}));
        let job = Job {
            peer: Peer::OnnxRuntime,
            task: Task::Step { batch: 16, hidden: 256, kind: StepKind::Session, steps: 100 },
        };
        let v: Value = serde_json::from_str(&request_line(&Request::Time(&job))).unwrap();
        assert_eq!(
            v,
            json!({"op": "time", "peer": "onnxruntime",
                   "step": {"batch": 16, "hidden": 256, "kind": "session", "steps": 100}})
        );
        assert_eq!(StepKind::Cell.peer(), Peer::Torch);
        assert_eq!(request_line(&Request::Hello), r#"{"op":"hello"}"#);
        assert_eq!(request_line(&Request::Release), r#"{"op":"release"}"#);
        assert!(!request_line(&Request::Time(&job)).contains('\n'));
    }

    #[test]
    fn replies_parse_and_bad_ones_are_protocol_errors() {
        assert_eq!(parse_reply("{\"ms\": 1.5}\n").unwrap(), Reply::Ms(1.5));
        assert_eq!(parse_reply("{\"ok\": true}").unwrap(), Reply::Ok);
        assert_eq!(
            parse_reply(r#"{"error": "RuntimeError: onnxruntime runs inference only"}"#).unwrap(),
            Reply::Error("RuntimeError: onnxruntime runs inference only".into())
        );
        let hello = parse_reply(
            r#"{"threads": 2, "torch": "2.15.0", "onnxruntime": null, "missing": {"onnxruntime": "No module named 'onnxruntime'"}}"#,
        )
        .unwrap();
        let Reply::Hello(h) = hello else { panic!("{hello:?}") };
        assert_eq!(h.threads, 2);
        assert_eq!(h.peer(Peer::Torch), Ok("2.15.0"));
        assert_eq!(h.peer(Peer::OnnxRuntime), Err("No module named 'onnxruntime'"));
        for bad in ["", "torch says hi", "[1]", "{\"ms\": -1}", "{\"ms\": \"fast\"}", "{\"ok\": false}", "{}"] {
            let e = parse_reply(bad).unwrap_err();
            assert!(matches!(e, Error::Protocol { .. }), "{bad:?}: {e}");
        }
        let e = parse_reply("{\"ms\": null}").unwrap_err().to_string();
        assert!(e.contains(r#"answered "{\"ms\": null}""#) && e.contains("non-negative number"), "{e}");
    }

    #[test]
    fn a_python_that_cannot_start_is_a_worker_error() {
        let Err(e) = Worker::start("/nonexistent/python3", 2) else { panic!("started") };
        let text = e.to_string();
        assert!(text.contains("/nonexistent/python3") && text.contains("cannot be started"), "{text}");
    }
}
