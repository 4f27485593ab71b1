//! The table of `gru bench`: one line of medians per shape and mode, a second line with
//! the spread of each timed column and ratio, and the run delay of the row.

use gru_bench::rounds::RunDelay;
use gru_bench::stats::Summary;

/// A row is flagged noisy when its threads waited for a CPU longer than this share of
/// the timed calls' wall time (in percent).
pub const NOISY_PCT: f64 = 5.0;

/// A peer's cell: its ms and the per-round ratio `theirs / ours`.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub ms: Summary,
    pub ratio: Option<Summary>,
}

/// What one row shows.
pub struct Row {
    pub shape: String,
    pub mode: &'static str,
    pub ours: Summary,
    pub ours_1t: Option<Summary>,
    pub gfs: f64,
    pub peak_pct: Option<f64>,
    /// oneDNN (its better thread count, shown in parentheses).
    pub onednn: Option<(Peer, usize)>,
    pub torch: Option<Peer>,
    pub ort: Option<Peer>,
    /// `ours / PT` peak training MB (training rows).
    pub memory: String,
    /// Each contestant's name and run delay (None: n/a).
    pub delays: Vec<(String, Option<RunDelay>)>,
}

/// The column heads (and the legend of the second line and the run delay).
pub fn header(rounds: usize) -> String {
    format!(
        "{:<25} {:>9} {:>9} {:>7} {:>6} {:>12} {:>10} {:>9} {:>9} {:>10} {:>7} {:>16}  {}\n\
         (each row: the median of {rounds} interleaved rounds; below it, the spread: interquartile range in % of the \
         median, for ratios of the per-round ratios)",
        "shape           mode",
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
        "run delay"
    )
}

fn ms(s: Option<Summary>) -> String {
    s.map_or("-".into(), |s| format!("{:.2}", s.median))
}

fn ratio(s: Option<Summary>) -> String {
    s.map_or("-".into(), |s| format!("{:.2}x", s.median))
}

fn spread(s: Option<Summary>) -> String {
    s.and_then(|s| s.spread_pct()).map_or(String::new(), |p| format!("{p:.1}%"))
}

/// The run-delay cell: the worst contestant's share, flagged `noisy` (with its name)
/// above [`NOISY_PCT`]; `n/a` where the counters cannot be read.
pub fn delay_cell(delays: &[(String, Option<RunDelay>)]) -> String {
    let mut worst: Option<(f64, &str)> = None;
    for (name, d) in delays {
        let Some(d) = d else { return "n/a".into() };
        if worst.is_none_or(|(w, _)| d.percent() > w) {
            worst = Some((d.percent(), name));
        }
    }
    match worst {
        None => "n/a".into(),
        Some((pct, name)) if pct > NOISY_PCT => format!("{pct:.1}% noisy ({name})"),
        Some((pct, _)) => format!("{pct:.1}%"),
    }
}

/// The two lines of a row (one when nothing has a spread).
pub fn row(r: &Row) -> String {
    let onednn_ms = r.onednn.map_or("-".into(), |(p, t)| format!("{:.2} ({t}t)", p.ms.median));
    let first = format!(
        "{:<15} {:<9} {:>9.2} {:>9} {:>7.0} {:>6} {:>12} {:>10} {:>9} {:>9} {:>10} {:>7} {:>16}  {}",
        r.shape,
        r.mode,
        r.ours.median,
        ms(r.ours_1t),
        r.gfs,
        r.peak_pct.map_or("-".into(), |p| format!("{p:.0}%")),
        onednn_ms,
        ms(r.torch.map(|p| p.ms)),
        ms(r.ort.map(|p| p.ms)),
        ratio(r.onednn.and_then(|(p, _)| p.ratio)),
        ratio(r.torch.and_then(|p| p.ratio)),
        ratio(r.ort.and_then(|p| p.ratio)),
        r.memory,
        delay_cell(&r.delays),
    );
    let second = format!(
        "{:<25} {:>9} {:>9} {:>7} {:>6} {:>12} {:>10} {:>9} {:>9} {:>10} {:>7}",
        "  spread",
        spread(Some(r.ours)),
        spread(r.ours_1t),
        "",
        "",
        spread(r.onednn.map(|(p, _)| p.ms)),
        spread(r.torch.map(|p| p.ms)),
        spread(r.ort.map(|p| p.ms)),
        spread(r.onednn.and_then(|(p, _)| p.ratio)),
        spread(r.torch.and_then(|p| p.ratio)),
        spread(r.ort.and_then(|p| p.ratio)),
    );
    // One round has no spread: no second line.
    if second.trim() == "spread" {
        first
    } else {
        format!("{first}\n{}", second.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay(wait_ns: u64) -> Option<RunDelay> {
        Some(RunDelay { wait_ns, wall_ns: 1000 })
    }

    #[test]
    fn the_worst_delay_flags_the_row() {
        let d = |v: Vec<(&str, Option<RunDelay>)>| {
            delay_cell(&v.into_iter().map(|(n, d)| (n.to_string(), d)).collect::<Vec<_>>())
        };
        assert_eq!(d(vec![("Korali", delay(10)), ("PyTorch", delay(30))]), "3.0%");
        assert_eq!(d(vec![("Korali", delay(10)), ("PyTorch", delay(120))]), "12.0% noisy (PyTorch)");
        assert_eq!(d(vec![("Korali", delay(10)), ("PyTorch", None)]), "n/a");
        assert_eq!(d(vec![]), "n/a");
    }

    #[test]
    fn a_row_lines_up_under_the_header() {
        let s = |v: &[f64]| Summary::of(v);
        let peer = |ms: &[f64], r: &[f64]| Peer { ms: s(ms).unwrap(), ratio: s(r) };
        let r = Row {
            shape: "B1 T100 H256".into(),
            mode: "inference",
            ours: s(&[1.0, 1.1, 0.9]).unwrap(),
            ours_1t: s(&[2.0]),
            gfs: 55.0,
            peak_pct: Some(30.0),
            onednn: Some((peer(&[2.4, 2.4], &[2.4, 2.0]), 1)),
            torch: None,
            ort: Some(peer(&[1.44], &[1.44])),
            memory: String::new(),
            delays: vec![("Korali".into(), delay(3))],
        };
        let text = row(&r);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with("B1 T100 H256    inference      1.00      2.00      55    30%    2.40 (1t)"),
            "{text}"
        );
        assert!(lines[0].contains("1.44") && lines[0].contains("2.20x") && lines[0].ends_with("  0.3%"), "{text}");
        // The spread sits under its column: Korali's 10% (IQR 0.1 of 1.0) ends where "1.00" ends.
        let head = header(3);
        let end_of = |line: &str, word: &str| line.find(word).map(|i| i + word.len()).unwrap();
        assert_eq!(end_of(lines[1], "10.0%"), end_of(lines[0], "1.00"));
        assert_eq!(end_of(lines[0], "1.00"), end_of(&head, "Korali ms"));
        assert_eq!(end_of(lines[0], "2.20x"), end_of(&head, "vs OneDNN"));
        assert!(lines[1].starts_with("  spread"), "{text}");
        // One round: no spread, no second line.
        let one = Row { ours: s(&[1.0]).unwrap(), ours_1t: None, onednn: None, ort: None, ..r };
        assert_eq!(row(&one).lines().count(), 1, "{}", row(&one));
    }
}
