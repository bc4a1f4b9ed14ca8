//! Exponential moving averages with a half-life measured in epochs.
//!
//! An observation after `Δ` epochs is blended with weight `α = 1 − 0.5^(Δ / half_life)`; with
//! no observation, the value decays by `0.5^(Δ / half_life)` so an idle miner's reputation
//! fades rather than freezing.

use serde::{Deserialize, Serialize};

/// EMA state of one score of one miner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Ema {
    pub value: f64,
    /// Epoch of the last update (observation or decay); `None` before the first.
    pub epoch: Option<u64>,
}

fn factor(elapsed: u64, half_life: f64) -> f64 {
    0.5f64.powf(elapsed as f64 / half_life)
}

impl Ema {
    /// Blend in an observation made at `epoch`. The first observation is taken as is.
    pub fn observe(&mut self, x: f64, epoch: u64, half_life: f64) {
        let x = if x.is_finite() { x } else { 0.0 };
        match self.epoch {
            None => self.value = x,
            Some(last) => {
                // Several observations in one epoch still count: treat them as one epoch apart
                // at most, never zero (which would ignore them).
                let elapsed = epoch.saturating_sub(last).max(1);
                let keep = factor(elapsed, half_life);
                self.value = keep * self.value + (1.0 - keep) * x;
            }
        }
        self.epoch = Some(epoch.max(self.epoch.unwrap_or(0)));
    }

    /// Decay toward zero for the epochs since the last update, without an observation.
    pub fn decay_to(&mut self, epoch: u64, half_life: f64) {
        if let Some(last) = self.epoch
            && epoch > last
        {
            self.value *= factor(epoch - last, half_life);
            self.epoch = Some(epoch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_life_halves() {
        let mut e = Ema::default();
        e.observe(1.0, 0, 4.0);
        e.decay_to(4, 4.0);
        assert!((e.value - 0.5).abs() < 1e-12);
        e.decay_to(8, 4.0);
        assert!((e.value - 0.25).abs() < 1e-12);
        e.decay_to(3, 4.0); // going back in time does nothing
        assert!((e.value - 0.25).abs() < 1e-12);
    }

    #[test]
    fn observations_converge() {
        let mut e = Ema::default();
        e.observe(0.0, 0, 2.0);
        for ep in 1..50 {
            e.observe(1.0, ep, 2.0);
        }
        assert!(e.value > 0.999);
        e.observe(f64::NAN, 51, 2.0);
        assert!(e.value.is_finite());
    }
}
