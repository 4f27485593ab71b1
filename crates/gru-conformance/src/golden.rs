//! Bit-exact fingerprints of the native engine's results, recorded once and committed
//! (`golden/*.txt`), so that a refactor proves it changed no bit: every value is hashed
//! through its f64 bit pattern (exact for f32 too) with FNV-1a.
//!
//! A golden file holds one `name hash` line per case. [`check_or_bless`] compares the
//! computed hashes with the file and lists every case that differs; with
//! `GRU_BLESS_GOLDEN=1` it (re)writes the file instead, which is only done when a change of
//! the order of operations is intended and documented.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gru_core::Real;

/// FNV-1a over 64-bit words.
#[derive(Clone, Copy, Debug)]
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fingerprint {
    /// Adds one 64-bit word, byte by byte.
    pub fn word(&mut self, w: u64) {
        for byte in w.to_le_bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Adds the length and then every value's bit pattern (as f64, exact for f32).
    pub fn values<T: Real>(&mut self, v: &[T]) {
        self.word(v.len() as u64);
        for x in v {
            self.word(x.widen().to_bits());
        }
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// The hash of several value slices, in order.
pub fn hash_all<T: Real>(parts: &[&[T]]) -> u64 {
    let mut f = Fingerprint::default();
    for p in parts {
        f.values(p);
    }
    f.finish()
}

/// The folder of the committed golden files.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Compares `computed` (case name -> hash) with `golden/<file>`, or writes the file when
/// `GRU_BLESS_GOLDEN=1`. Returns the description of every difference (empty: identical).
pub fn check_or_bless(file: &str, computed: &BTreeMap<String, u64>) -> Vec<String> {
    let path = golden_dir().join(file);
    if std::env::var("GRU_BLESS_GOLDEN").is_ok_and(|v| v == "1") {
        let mut text = String::new();
        for (name, hash) in computed {
            let _ = writeln!(text, "{name} {hash:016x}");
        }
        std::fs::create_dir_all(golden_dir()).expect("create golden/");
        std::fs::write(&path, text).expect("write the golden file");
        eprintln!("wrote {} ({} cases)", path.display(), computed.len());
        return Vec::new();
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return vec![format!("{}: {e} (GRU_BLESS_GOLDEN=1 records it)", path.display())],
    };
    let mut golden = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match line.rsplit_once(' ').map(|(n, h)| (n, u64::from_str_radix(h, 16))) {
            Some((name, Ok(hash))) => {
                golden.insert(name.to_string(), hash);
            }
            _ => return vec![format!("{}: malformed line {line:?}", path.display())],
        }
    }
    let mut diffs = Vec::new();
    for (name, hash) in computed {
        match golden.get(name) {
            Some(g) if g == hash => {}
            Some(g) => diffs.push(format!("{name}: {hash:016x}, recorded {g:016x}")),
            None => diffs.push(format!("{name}: not recorded")),
        }
    }
    diffs.extend(golden.keys().filter(|k| !computed.contains_key(*k)).map(|k| format!("{k}: recorded, not computed")));
    diffs
}
