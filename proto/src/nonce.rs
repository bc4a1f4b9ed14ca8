//! The one nonce source of the process: every signed request (the dendrite's v10 and `btauth/1`
//! headers, the subnet adapters' `btauth/1` calls, the devnet client's extrinsics) takes its
//! nonce here.
//!
//! A nonce is the Unix time in nanoseconds (what axons and the devnet check freshness
//! against), bumped past the last one handed out when the clock has not moved or moved back.
//! One atomic for the whole process, so nonces are strictly increasing across all threads and
//! callers: two signers sharing a hotkey never send the same nonce, and a receiver that wants
//! each nonce above the last one it saw from a hotkey gets that from a single client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static LAST: AtomicU64 = AtomicU64::new(0);

/// A nonce above every nonce this process handed out before, and at least the current Unix time
/// in nanoseconds.
pub fn next_nonce() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_unique_and_increasing_across_threads() {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    let v: Vec<u64> = (0..20_000).map(|_| next_nonce()).collect();
                    assert!(v.windows(2).all(|w| w[0] < w[1]), "increasing within a thread");
                    v
                })
            })
            .collect();
        let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "no nonce handed out twice");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_nanos() as u64;
        assert!(next_nonce() >= now - 1_000_000_000, "tracks the clock");
    }
}
