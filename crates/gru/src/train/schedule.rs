//! MATLAB's `LearnRateSchedule`: the learn rate of each epoch.

use serde::{Deserialize, Serialize};

use super::solver::require;
use crate::error::Result;

/// MATLAB's `LearnRateSchedule`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum LearnRateSchedule {
    /// "none": the learn rate stays at its initial value.
    #[default]
    None,
    /// "piecewise": multiplied by `drop_factor` (`LearnRateDropFactor`, default 0.1) every
    /// `drop_period` epochs (`LearnRateDropPeriod`, default 10).
    Piecewise { drop_factor: f64, drop_period: usize },
}

impl LearnRateSchedule {
    /// "piecewise" with MATLAB's defaults (drop factor 0.1, period 10).
    pub fn piecewise() -> Self {
        LearnRateSchedule::Piecewise { drop_factor: 0.1, drop_period: 10 }
    }

    /// The learn rate in epoch `epoch` (1-based; 0 is read as 1):
    /// none: `α_e = α_0`; piecewise: `α_e = α_0 · drop_factor^⌊(epoch−1)/drop_period⌋`, the power
    /// taken by repeated multiplication as MATLAB drops the rate once per period.
    pub fn learn_rate(&self, initial: f64, epoch: usize) -> f64 {
        match *self {
            LearnRateSchedule::None => initial,
            LearnRateSchedule::Piecewise { drop_factor, drop_period } => {
                let drops = epoch.saturating_sub(1) / drop_period.max(1);
                (0..drops).take_while(|_| drop_factor != 1.0).fold(initial, |rate, _| rate * drop_factor)
            }
        }
    }

    /// Checks the drop factor in `[0, 1]` and the drop period `>= 1`.
    pub fn validate(&self) -> Result<()> {
        match *self {
            LearnRateSchedule::None => Ok(()),
            LearnRateSchedule::Piecewise { drop_factor: f, drop_period: p } => require(
                (0.0..=1.0).contains(&f),
                "LearnRateDropFactor",
                f,
                "must be in [0, 1]",
            )
            .and(require(p > 0, "LearnRateDropPeriod", p, "must be a positive integer")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn piecewise_schedule() {
        let s = LearnRateSchedule::piecewise();
        for epoch in 1..=25 {
            let want = match epoch {
                1..=10 => 0.01,
                11..=20 => 0.01 * 0.1,
                _ => 0.01 * 0.1 * 0.1,
            };
            assert_eq!(s.learn_rate(0.01, epoch), want, "epoch {epoch}");
            assert_eq!(LearnRateSchedule::None.learn_rate(0.01, epoch), 0.01);
        }
        assert_eq!(s.learn_rate(0.01, 0), 0.01);
    }

    #[test]
    fn bad_schedules_are_rejected() {
        let property = |r: Result<()>| match r {
            Err(Error::Property { property, .. }) => property,
            other => panic!("expected a property error, got {other:?}"),
        };
        let piecewise = |f, p| LearnRateSchedule::Piecewise { drop_factor: f, drop_period: p };
        assert_eq!(property(piecewise(1.5, 10).validate()), "LearnRateDropFactor");
        assert_eq!(property(piecewise(0.1, 0).validate()), "LearnRateDropPeriod");
        LearnRateSchedule::piecewise().validate().unwrap();
    }
}
