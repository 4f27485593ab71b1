//! The median and the spread of a contestant's timed calls, and of the per-round ratios
//! between two contestants (the rounds of `rounds.rs` pair their calls).

/// Order statistics of a sample: median, quartiles (linear interpolation between the
/// sorted values, numpy's default), extremes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub min: f64,
    pub max: f64,
}

/// The `q`-quantile (0..=1) of sorted `v` (not empty), interpolated linearly.
fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

impl Summary {
    /// The summary of `samples`; None when there is no finite value.
    pub fn of(samples: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Self {
            n: v.len(),
            median: quantile(&v, 0.5),
            q1: quantile(&v, 0.25),
            q3: quantile(&v, 0.75),
            min: v[0],
            max: v[v.len() - 1],
        })
    }

    /// The spread: the interquartile range as a percentage of the median. None with fewer
    /// than 2 values (no spread to see) or a zero median.
    pub fn spread_pct(&self) -> Option<f64> {
        (self.n >= 2 && self.median != 0.0).then(|| 100.0 * (self.q3 - self.q1) / self.median.abs())
    }
}

/// The ratios `theirs[i] / ours[i]` of the rounds where both ran (a round of one of them
/// that failed or is missing is left out), summarized. Above 1: ours is faster.
pub fn ratio_summary(theirs: &[f64], ours: &[f64]) -> Option<Summary> {
    let ratios: Vec<f64> = theirs.iter().zip(ours).filter(|(_, &o)| o > 0.0).map(|(t, o)| t / o).collect();
    Summary::of(&ratios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quartiles_interpolate() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0, 5.0]).unwrap();
        assert_eq!((s.n, s.median, s.q1, s.q3, s.min, s.max), (5, 3.0, 2.0, 4.0, 1.0, 5.0));
        assert_eq!(s.spread_pct(), Some(100.0 * 2.0 / 3.0));
        // Even count: the median is the mean of the middle two.
        let s = Summary::of(&[10.0, 40.0, 20.0, 30.0]).unwrap();
        assert_eq!((s.median, s.q1, s.q3), (25.0, 17.5, 32.5));
        assert_eq!(s.spread_pct(), Some(60.0));
        // Three values: the quartiles sit half-way to the extremes.
        let s = Summary::of(&[1.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.median, s.q1, s.q3), (2.0, 1.5, 3.0));
    }

    #[test]
    fn one_value_has_no_spread_and_non_finite_values_are_dropped() {
        let s = Summary::of(&[f64::NAN, 7.0, f64::INFINITY]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (1, 7.0, 7.0, 7.0));
        assert_eq!(s.spread_pct(), None);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[f64::NAN]), None);
    }

    #[test]
    fn an_outlier_moves_the_median_little() {
        let s = Summary::of(&[10.0, 10.2, 9.9, 10.1, 55.0]).unwrap();
        assert_eq!(s.median, 10.1);
        assert_eq!(s.max, 55.0);
        assert!(s.spread_pct().unwrap() < 3.0);
    }

    #[test]
    fn ratios_pair_the_rounds() {
        // A slow second round for both: the per-round ratio stays 2.
        let r = ratio_summary(&[2.0, 8.0, 2.2], &[1.0, 4.0, 1.1]).unwrap();
        assert_eq!((r.n, r.median, r.min, r.max), (3, 2.0, 2.0, 2.0));
        // A missing round (ours failed there: fewer values) is left out.
        let r = ratio_summary(&[3.0, 6.0, 9.0], &[1.0, 2.0]).unwrap();
        assert_eq!((r.n, r.median), (2, 3.0));
        assert_eq!(ratio_summary(&[1.0], &[0.0]), None);
    }
}
