//! The one retry backoff: how long to wait before the n-th retry of anything (a subtensor
//! reconnect, a weights submission, a webhook delivery, a subnet call, a change-feed
//! reconnect). Exponential from `base`, capped at `max`, with optional proportional jitter so
//! many clients failing together do not retry in lockstep.
//!
//! Pure: the caller sleeps, and supplies the jitter's random unit (or a seed, for a
//! reproducible schedule such as the miner's per-task retries).

use std::time::Duration;

/// An exponential backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub base: Duration,
    /// No delay exceeds this, jitter included.
    pub max: Duration,
    /// Proportional jitter in `[0, 1]`: the delay is scaled by a factor uniform in
    /// `[1 − jitter, 1 + jitter]`.
    pub jitter: f64,
}

impl Backoff {
    /// `base · 2^(n−1)` capped at `max`, no jitter.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max, jitter: 0.0 }
    }

    /// The same schedule with proportional jitter (clamped to `[0, 1]`).
    pub fn with_jitter(self, jitter: f64) -> Self {
        Backoff { jitter: jitter.clamp(0.0, 1.0), ..self }
    }

    /// The delay before retry `retry` (1 for the first retry; 0 counts as 1) with no jitter.
    pub fn nominal(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << exp).min(self.max)
    }

    /// The delay before retry `retry`, jittered by `unit`, a sample uniform in `[0, 1]`.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.5 };
        let factor = 1.0 - self.jitter + 2.0 * self.jitter * unit;
        self.nominal(retry).mul_f64(factor).min(self.max)
    }

    /// [`Backoff::delay`] with the unit drawn from `seed`: the same seed gives the same delay.
    pub fn delay_seeded(&self, retry: u32, seed: &[u8]) -> Duration {
        let h = blake3::hash(seed);
        let mut b = [0u8; 8];
        b.copy_from_slice(&h.as_bytes()[..8]);
        self.delay(retry, (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let d: Vec<u64> = (1..=8).map(|n| b.nominal(n).as_millis() as u64).collect();
        assert_eq!(d, vec![500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(b.nominal(0), b.nominal(1));
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(30));
        assert_eq!(b.delay(3, 0.9), b.nominal(3), "no jitter unless asked");
    }

    #[test]
    fn jitter_stays_in_its_band_and_under_the_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10)).with_jitter(0.2);
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(3200));
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(4800));
        assert_eq!(b.delay(3, 0.5), Duration::from_secs(4));
        assert!(b.delay(40, 1.0) <= Duration::from_secs(10));
        assert_eq!(b.delay(1, f64::NAN), Duration::from_secs(1));
        for n in 1..20 {
            let d = b.delay_seeded(2, format!("task/{n}").as_bytes());
            assert!(d >= Duration::from_millis(1600) && d <= Duration::from_millis(2400), "{d:?}");
        }
        assert_eq!(b.delay_seeded(2, b"same"), b.delay_seeded(2, b"same"));
    }
}
