//! `gru stream`: a saved model over frames read from standard input, one line per frame,
//! for shell pipelines and real-time callers (see `gru::network::NetworkStreams`).
//!
//! ```text
//! in:   ID v1 v2 ... vC     one frame of stream ID (C = the model's input channels)
//!       reset ID            stream ID back to its initial state
//!       close ID            forget stream ID (frees its slot)
//!       (blank lines and lines starting with # are skipped)
//! out:  ID y1 y2 ... yK     the network's output for that frame, flushed at once
//! ```
//! A stream opens at its first frame. A line that cannot be run (wrong number of values,
//! a value that is not a finite number, no free slot) is reported on standard error with
//! its line number and changes nothing; the command then goes on, and exits with status 1
//! at the end of the input when any line was refused.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use gru::{Network, Real, StreamId};

use super::{load_model, AnyNetwork};
use crate::paths::Files;

#[derive(Args, Debug)]
pub struct StreamArgs {
    /// A model saved by `gru train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Streams open at once at most (each keeps every GRU layer's state).
    #[arg(long, default_value_t = 256)]
    pub capacity: usize,
}

pub fn run(a: &StreamArgs) -> Result<()> {
    Files::new().input("--model", Some(&a.model)).check()?;
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    let refused = match load_model(&a.model)? {
        AnyNetwork::F32(n) => serve(&n, a.capacity, stdin.lock(), stdout.lock())?,
        AnyNetwork::F64(n) => serve(&n, a.capacity, stdin.lock(), stdout.lock())?,
    };
    if refused > 0 {
        bail!("{refused} input line(s) refused (see above)");
    }
    Ok(())
}

/// Runs every line of `input`, writing one output line per frame to `out`, until `input`
/// ends or `out` fails (its reader left); returns how many lines were refused.
fn serve<T: Real>(net: &Network<T>, capacity: usize, input: impl BufRead, mut out: impl Write) -> Result<usize> {
    let mut streams = net.streams(capacity).context("streaming the model")?;
    let mut ids: HashMap<String, StreamId> = HashMap::new();
    let mut frame: Vec<T> = Vec::with_capacity(streams.input_size());
    let mut text = String::new();
    let mut refused = 0;
    for (number, line) in input.lines().enumerate() {
        let line = line.context("reading standard input")?;
        let mut words = line.split_whitespace();
        let Some(first) = words.next().filter(|w| !w.starts_with('#')) else { continue };
        let result = match first {
            "reset" | "close" => match (words.next(), words.next()) {
                (Some(name), None) => match (first, ids.get(name).copied()) {
                    // A stream never seen is in its initial state already.
                    (_, None) => Ok(()),
                    ("reset", Some(id)) => streams.reset(&[id]).map_err(anyhow::Error::from),
                    (_, Some(id)) => {
                        ids.remove(name);
                        streams.close(id).map_err(anyhow::Error::from)
                    }
                },
                _ => Err(anyhow::anyhow!("`{first}` takes one stream id")),
            },
            name => parse_frame(words, streams.input_size(), &mut frame).and_then(|()| {
                let id = match ids.get(name) {
                    Some(&id) => id,
                    None => {
                        let id = streams.open()?;
                        ids.insert(name.to_string(), id);
                        id
                    }
                };
                let y = streams.step(&frame, &[id])?;
                text.clear();
                text.push_str(name);
                for v in y {
                    text.push(' ');
                    text.push_str(&v.to_string());
                }
                text.push('\n');
                if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                    // The reader left, or the output failed: `out.rs` keeps the failure and
                    // serving ends, nothing more can be delivered.
                    crate::out::failed(e);
                }
                Ok(())
            }),
        };
        if let Err(e) = result {
            errln!("line {}: {e:#}", number + 1);
            refused += 1;
        }
        if crate::out::closed() {
            break;
        }
    }
    Ok(refused)
}

/// The values of one frame (`channels` finite numbers) into `frame`.
fn parse_frame<'a, T: Real>(words: impl Iterator<Item = &'a str>, channels: usize, frame: &mut Vec<T>) -> Result<()> {
    frame.clear();
    for w in words {
        let v: f64 = w.parse().map_err(|_| anyhow::anyhow!("`{w}` is not a number"))?;
        if !v.is_finite() {
            bail!("value {} is not finite", frame.len() + 1);
        }
        frame.push(T::lit(v));
    }
    if frame.len() != channels {
        bail!("a frame has {channels} values (the model's input channels), this line has {}", frame.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_parsed_and_checked() {
        let mut f: Vec<f32> = Vec::new();
        parse_frame("1 -2.5 3e-1".split_whitespace(), 3, &mut f).unwrap();
        assert_eq!(f, vec![1.0, -2.5, 0.3]);
        assert!(parse_frame("1 2".split_whitespace(), 3, &mut f).unwrap_err().to_string().contains("3 values"));
        assert!(parse_frame("1 x 2".split_whitespace(), 3, &mut f).unwrap_err().to_string().contains("`x`"));
        assert!(parse_frame("1 nan 2".split_whitespace(), 3, &mut f).unwrap_err().to_string().contains("finite"));
    }
}
