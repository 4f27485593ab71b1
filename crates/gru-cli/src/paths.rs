//! Output paths checked before any work starts: a run that trains for an hour must not
//! fail at the end because `--history` points into a missing folder, and no output may
//! overwrite an input (`gru train --train F.ts --out F.ts` would destroy the data).
//!
//! An output is refused when it names an existing directory, when its directory does not
//! exist, when it is the same file as an input (same device and inode, so links and
//! `./F` vs `F` are caught) or when two outputs are the same file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// A command's files: `(flag, path)` of each input it reads and each output it writes.
#[derive(Default)]
pub struct Files<'a> {
    inputs: Vec<(&'static str, &'a Path)>,
    outputs: Vec<(&'static str, &'a Path)>,
}

impl<'a> Files<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// An input read from `path` (given as `flag`); `None` adds nothing.
    pub fn input(mut self, flag: &'static str, path: Option<&'a Path>) -> Self {
        self.inputs.extend(path.map(|p| (flag, p)));
        self
    }

    /// An output written to `path` (given as `flag`); `None` adds nothing.
    pub fn output(mut self, flag: &'static str, path: Option<&'a Path>) -> Self {
        self.outputs.extend(path.map(|p| (flag, p)));
        self
    }

    /// Outputs written to each of `paths` (a repeatable flag).
    pub fn outputs(mut self, flag: &'static str, paths: &'a [PathBuf]) -> Self {
        self.outputs.extend(paths.iter().map(|p| (flag, p.as_path())));
        self
    }

    /// Refuses an output that could not be written or would overwrite an input.
    pub fn check(&self) -> Result<()> {
        for (k, &(flag, out)) in self.outputs.iter().enumerate() {
            if out.is_dir() {
                bail!("{flag} {}: is a directory; give a file name", out.display());
            }
            let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !dir.is_dir() {
                bail!("{flag} {}: the directory {} does not exist", out.display(), dir.display());
            }
            for &(in_flag, input) in &self.inputs {
                if same_file(input, out) {
                    bail!(
                        "{flag} {} is the same file as {in_flag} {}: refusing to overwrite an input",
                        out.display(),
                        input.display()
                    );
                }
            }
            for &(other_flag, other) in &self.outputs[..k] {
                if same_file(other, out) || absolute(other) == absolute(out) {
                    bail!("{flag} {} and {other_flag} {} name the same file", out.display(), other.display());
                }
            }
        }
        Ok(())
    }
}

/// Whether `a` and `b` are one existing file (device and inode), or resolve to one path.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// `p` made absolute against the working directory (not resolving links; for files that
/// do not exist yet).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_checked_against_inputs_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.ts");
        std::fs::write(&data, "x").unwrap();
        let model = dir.path().join("m.safetensors");
        assert!(Files::new().input("--train", Some(&data)).output("--out", Some(&model)).check().is_ok());
        let same = dir.path().join(".").join("d.ts");
        let err = Files::new().input("--train", Some(&data)).output("--out", Some(&same)).check().unwrap_err();
        assert!(err.to_string().contains("same file as --train"), "{err}");
        let missing = dir.path().join("nope").join("h.csv");
        let err = Files::new().output("--history", Some(&missing)).check().unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let err = Files::new().output("--out", Some(dir.path())).check().unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err = Files::new().output("--out", Some(&model)).output("--history", Some(&model)).check().unwrap_err();
        assert!(err.to_string().contains("name the same file"), "{err}");
    }
}
