//! The size of the largest cache private to one core, as the operating system reports it
//! (Linux: `/sys/devices/system/cpu/cpu0/cache/index*/`): how many bytes of weights one
//! core keeps close (L2 on current x86 server cores: 1 MiB on AMD Zen 4, 2 MiB on recent
//! Intel Xeons). The stream step (`step.rs`) splits its weights between the cores when
//! they do not fit there, and the panel GEMM (`panel_gemm.rs`) sizes its row blocks by it.

use std::path::Path;
use std::sync::OnceLock;

/// Bytes of the largest data or unified cache that serves cpu0's core alone (its
/// `shared_cpu_list` is cpu0's `thread_siblings_list`); `None` where the system does not
/// say. Read once per process.
pub(crate) fn per_core_cache_bytes() -> Option<usize> {
    static BYTES: OnceLock<Option<usize>> = OnceLock::new();
    *BYTES.get_or_init(|| read(Path::new("/sys/devices/system/cpu/cpu0")))
}

/// [`per_core_cache_bytes`] of the CPU directory `cpu` (sysfs layout).
fn read(cpu: &Path) -> Option<usize> {
    let text = |p: &Path| std::fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    let siblings = text(&cpu.join("topology/thread_siblings_list"))?;
    let mut best = None;
    for entry in std::fs::read_dir(cpu.join("cache")).ok()?.flatten() {
        let dir = entry.path();
        let is_index = dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("index"));
        if !is_index || !matches!(text(&dir.join("type")).as_deref(), Some("Data" | "Unified")) {
            continue;
        }
        if text(&dir.join("shared_cpu_list")).as_deref() != Some(siblings.as_str()) {
            continue;
        }
        if let Some(bytes) = text(&dir.join("size")).as_deref().and_then(parse_size) {
            best = best.max(Some(bytes));
        }
    }
    best
}

/// A sysfs cache size: `1024K`, `32M`, or bytes.
fn parse_size(s: &str) -> Option<usize> {
    let (digits, unit) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.trim().parse::<usize>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_their_units() {
        assert_eq!(parse_size("1024K"), Some(1 << 20));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("48"), Some(48));
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn the_private_cache_is_the_largest_one_the_core_has_alone() {
        let root = std::env::temp_dir().join(format!("gru-cache-test-{}", std::process::id()));
        let cpu = root.join("cpu0");
        let cache = |i: usize, kind: &str, size: &str, shared: &str| {
            let d = cpu.join(format!("cache/index{i}"));
            std::fs::create_dir_all(&d).unwrap();
            for (f, v) in [("type", kind), ("size", size), ("shared_cpu_list", shared)] {
                std::fs::write(d.join(f), format!("{v}\n")).unwrap();
            }
        };
        std::fs::create_dir_all(cpu.join("topology")).unwrap();
        std::fs::write(cpu.join("topology/thread_siblings_list"), "0,64\n").unwrap();
        cache(0, "Data", "48K", "0,64");
        cache(1, "Instruction", "4096K", "0,64");
        cache(2, "Unified", "2048K", "0,64");
        cache(3, "Unified", "105M", "0-63,64-127");
        assert_eq!(read(&cpu), Some(2 << 20));
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(read(&cpu), None);
    }
}
