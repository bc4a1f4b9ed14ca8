//! Bounded concurrency with priority by stake: the axon's answer to overload.
//!
//! At most `max_in_flight` requests run their handler at once. While that is below the limit and
//! nobody waits, a request takes a slot with one atomic compare-and-swap (no lock). Otherwise it
//! joins a queue ordered by priority (stake by default), first come first served among equals;
//! a freed slot goes straight to the best waiter. When the queue is full, a newcomer with a
//! higher priority than the worst waiter evicts it (that waiter gets 503), otherwise the
//! newcomer is refused (503). A waiter that has not got a slot within its request timeout gives
//! up (408): its dendrite has stopped listening anyway.

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::oneshot;

/// Why no slot was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GateError {
    /// The queue was full of waiters with at least our priority.
    Overflow,
    /// A waiter with a higher priority took our place in the queue.
    Evicted,
    /// No slot within the wait limit.
    Timeout,
}

/// f64 with a total order, so priorities can key a BTreeMap.
#[derive(Debug, Clone, Copy)]
struct Prio(f64);
impl PartialEq for Prio {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Prio {}
impl PartialOrd for Prio {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Prio {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// Queue order: highest priority first, then arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct WaitKey {
    prio: Reverse<Prio>,
    seq: u64,
}

#[derive(Default)]
struct Queue {
    seq: u64,
    waiters: BTreeMap<WaitKey, oneshot::Sender<Permit>>,
}

pub(crate) struct Gate {
    max_in_flight: usize,
    max_queue: usize,
    in_flight: AtomicUsize,
    /// Waiters registered or about to be; releasers look at the queue only when this is > 0.
    waiting: AtomicUsize,
    queue: Mutex<Queue>,
    in_flight_gauge: Gauge,
    queued_gauge: Gauge,
}

/// A slot; dropping it frees the slot (and hands it to the best waiter).
pub(crate) struct Permit {
    gate: Arc<Gate>,
    armed: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.armed {
            self.gate.release();
        }
    }
}

impl Gate {
    pub(crate) fn new(max_in_flight: usize, max_queue: usize, in_flight_gauge: Gauge, queued_gauge: Gauge) -> Self {
        Gate {
            max_in_flight,
            max_queue,
            in_flight: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            queue: Mutex::new(Queue::default()),
            in_flight_gauge,
            queued_gauge,
        }
    }

    fn try_take(&self) -> bool {
        let mut cur = self.in_flight.load(SeqCst);
        loop {
            if cur >= self.max_in_flight {
                return false;
            }
            match self.in_flight.compare_exchange_weak(cur, cur + 1, SeqCst, SeqCst) {
                Ok(_) => {
                    self.in_flight_gauge.inc();
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    fn permit(self: &Arc<Self>) -> Permit {
        Permit { gate: Arc::clone(self), armed: true }
    }

    /// Waits for a slot for at most `wait`.
    pub(crate) async fn acquire(self: &Arc<Self>, priority: f64, wait: Duration) -> Result<Permit, GateError> {
        if self.waiting.load(SeqCst) == 0 && self.try_take() {
            return Ok(self.permit());
        }
        let priority = if priority.is_finite() { priority } else { 0.0 };
        let (tx, mut rx) = oneshot::channel();
        let key = {
            let mut q = self.queue.lock();
            // Registered before the re-check, so a release racing with us sees a waiter and
            // dispatches (no lost wake-up).
            self.waiting.fetch_add(1, SeqCst);
            if q.waiters.is_empty() && self.try_take() {
                self.waiting.fetch_sub(1, SeqCst);
                return Ok(self.permit());
            }
            if q.waiters.len() >= self.max_queue {
                let evict = matches!(q.waiters.last_key_value(), Some((k, _)) if k.prio.0.0 < priority);
                if !evict {
                    self.waiting.fetch_sub(1, SeqCst);
                    return Err(GateError::Overflow);
                }
                // Dropping its sender tells the evicted waiter.
                drop(q.waiters.pop_last());
                self.waiting.fetch_sub(1, SeqCst);
                self.queued_gauge.dec();
            }
            q.seq += 1;
            let key = WaitKey { prio: Reverse(Prio(priority)), seq: q.seq };
            q.waiters.insert(key, tx);
            self.queued_gauge.inc();
            key
        };
        match tokio::time::timeout(wait, &mut rx).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(GateError::Evicted),
            Err(_) => {
                let removed = {
                    let mut q = self.queue.lock();
                    q.waiters.remove(&key).is_some()
                };
                if removed {
                    self.waiting.fetch_sub(1, SeqCst);
                    self.queued_gauge.dec();
                }
                // Not removed: a slot was handed to us just now (dropped here, outside the
                // lock, which passes it on) or we were evicted.
                drop(rx.try_recv());
                Err(GateError::Timeout)
            }
        }
    }

    fn release(self: &Arc<Self>) {
        self.in_flight.fetch_sub(1, SeqCst);
        self.in_flight_gauge.dec();
        if self.waiting.load(SeqCst) > 0 {
            self.dispatch();
        }
    }

    /// Hands free slots to the best waiters.
    fn dispatch(self: &Arc<Self>) {
        let mut q = self.queue.lock();
        while let Some(entry) = q.waiters.first_entry() {
            if !self.try_take() {
                break;
            }
            let tx = entry.remove();
            self.waiting.fetch_sub(1, SeqCst);
            self.queued_gauge.dec();
            if let Err(mut p) = tx.send(self.permit()) {
                // The waiter gave up in the meantime; free the slot by hand (dropping the
                // permit here would re-enter this lock) and try the next one.
                p.armed = false;
                self.in_flight.fetch_sub(1, SeqCst);
                self.in_flight_gauge.dec();
            }
        }
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.in_flight.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max: usize, queue: usize) -> Arc<Gate> {
        Arc::new(Gate::new(max, queue, Gauge::default(), Gauge::default()))
    }

    #[tokio::test]
    async fn fast_path_and_release() {
        let g = gate(2, 4);
        let a = g.acquire(0.0, Duration::from_millis(10)).await.expect("slot");
        let b = g.acquire(0.0, Duration::from_millis(10)).await.expect("slot");
        assert_eq!(g.in_flight(), 2);
        assert_eq!(g.acquire(0.0, Duration::from_millis(10)).await.err(), Some(GateError::Timeout));
        drop(a);
        let _c = g.acquire(0.0, Duration::from_millis(10)).await.expect("slot after release");
        drop(b);
        assert_eq!(g.in_flight(), 1);
    }

    #[tokio::test]
    async fn waiters_are_served_by_stake() {
        let g = gate(1, 8);
        let first = g.acquire(0.0, Duration::from_secs(1)).await.expect("slot");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for stake in [1.0, 50.0, 10.0, 50.0] {
            let (g, order) = (Arc::clone(&g), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let p = g.acquire(stake, Duration::from_secs(5)).await.expect("slot");
                order.lock().push(stake);
                tokio::time::sleep(Duration::from_millis(2)).await;
                drop(p);
            }));
            // Let each one enqueue before the next, so arrival order is known.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(first);
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(*order.lock(), vec![50.0, 50.0, 10.0, 1.0]);
        assert_eq!(g.in_flight(), 0);
    }

    #[tokio::test]
    async fn overflow_refuses_or_evicts_by_stake() {
        let g = gate(1, 1);
        let _held = g.acquire(0.0, Duration::from_secs(1)).await.expect("slot");
        let g2 = Arc::clone(&g);
        let low = tokio::spawn(async move { g2.acquire(5.0, Duration::from_secs(5)).await.err() });
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Same or lower stake than the queued waiter: refused.
        assert_eq!(g.acquire(5.0, Duration::from_secs(1)).await.err(), Some(GateError::Overflow));
        // Higher stake: evicts the waiter and takes its place (then times out here).
        assert_eq!(g.acquire(9.0, Duration::from_millis(20)).await.err(), Some(GateError::Timeout));
        assert_eq!(low.await.expect("task"), Some(GateError::Evicted));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_slot_is_lost_under_contention() {
        let g = gate(3, 10_000);
        let mut tasks = Vec::new();
        for i in 0..2000 {
            let g = Arc::clone(&g);
            tasks.push(tokio::spawn(async move {
                let p = g.acquire(f64::from(i % 7), Duration::from_secs(30)).await.expect("slot");
                tokio::task::yield_now().await;
                drop(p);
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(g.in_flight(), 0);
        assert_eq!(g.waiting.load(SeqCst), 0);
    }
}
