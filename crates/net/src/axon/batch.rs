//! Batch verification of the sr25519 signatures of requests that arrive together.
//!
//! One signature costs a double-scalar multiplication (about 36 µs); schnorrkel's batch
//! verification checks n signatures with one multiscalar multiplication of about n + k + 1
//! points (k distinct keys), which costs well under half as much per signature once a few are
//! batched. Requests reach the signature check one by one, on whichever worker thread parsed
//! them, so they are batched by *flat combining*, without a verifier thread or a timer:
//!
//! - a request puts its (key, message, signature) in the queue; if the queue was empty, it is
//!   the batch's **leader**;
//! - the leader yields to the scheduler (so the requests whose bytes arrived in the same
//!   readiness wake-up are parsed and queued too) as long as the queue keeps growing, up to
//!   `max_batch` signatures or `max_wait`;
//! - then it takes the whole queue, verifies it in batches of at most `max_batch` and hands each
//!   waiter its answer. The next request to arrive finds the queue empty and leads the next
//!   batch, so two workers can verify two batches at once.
//!
//! Under light load a batch is one signature and costs one `yield_now` more than before (no
//! waiting on a clock). A batch that fails is re-checked one signature at a time (which also
//! tries the `<Bytes>` wrapping), so a forged request gets its 401 and the genuine ones in its
//! batch still pass; a flood of forgeries costs at most about twice the single-verify work.
//!
//! A leader dropped before it has verified (its client hung up) still verifies what it took
//! charge of, from its destructor, so no waiter is left without an answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_keys::{BatchItem, VerifyingKey, verify_batch};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::metrics::BatchCounters;

struct Pending {
    key: Arc<VerifyingKey>,
    msg: Vec<u8>,
    sig: [u8; 64],
    answer: oneshot::Sender<(bool, Vec<u8>)>,
}

pub(crate) struct Batcher {
    queue: Mutex<Vec<Pending>>,
    max_batch: usize,
    max_wait: Duration,
    counters: BatchCounters,
}

impl Batcher {
    /// `max_batch` ≤ 1 turns batching off (every signature verified on its own, at once).
    pub(crate) fn new(max_batch: usize, max_wait: Duration, counters: BatchCounters) -> Self {
        Batcher { queue: Mutex::new(Vec::with_capacity(max_batch.max(1))), max_batch, max_wait, counters }
    }

    /// Whether `sig` is `key`'s signature of `msg` (raw or `<Bytes>`-wrapped); gives `msg` back.
    pub(crate) async fn verify(&self, key: Arc<VerifyingKey>, msg: Vec<u8>, sig: [u8; 64]) -> (bool, Vec<u8>) {
        if self.max_batch <= 1 {
            self.counters.batches.inc();
            self.counters.signatures.inc();
            return (key.verify(&msg, &sig), msg);
        }
        let (answer, rx) = oneshot::channel();
        let leader = {
            let mut q = self.queue.lock();
            q.push(Pending { key, msg, sig, answer });
            q.len() == 1
        };
        if leader {
            let mut lead = Leader { batcher: self, done: false };
            lead.gather().await;
            lead.flush();
        }
        // The sender is always used before it is dropped (flush answers everyone it takes).
        rx.await.unwrap_or((false, Vec::new()))
    }

    fn run(&self, mut batch: Vec<Pending>) {
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(self.max_batch));
            let ok = {
                let items: Vec<BatchItem<'_>> =
                    batch.iter().map(|p| BatchItem { key: &p.key, msg: &p.msg, sig: &p.sig }).collect();
                verify_batch(&items)
            };
            self.counters.batches.inc();
            self.counters.signatures.inc_by(batch.len() as u64);
            if !ok {
                self.counters.failed_batches.inc();
            }
            for p in batch {
                // A failed batch (or a lone signature that only verifies `<Bytes>`-wrapped):
                // find out one by one.
                let good = ok || p.key.verify(&p.msg, &p.sig);
                // The waiter may have gone (its client hung up).
                let _ = p.answer.send((good, p.msg));
            }
            batch = rest;
        }
    }
}

/// Yields in a row without a new signature before the leader stops gathering.
const STILL_YIELDS: u32 = 2;

/// The leader of the batch being gathered; verifies on drop if it never got to.
struct Leader<'a> {
    batcher: &'a Batcher,
    done: bool,
}

impl Leader<'_> {
    /// Lets the requests that arrived together reach the queue: yield while it grows.
    async fn gather(&mut self) {
        let b = self.batcher;
        let deadline = Instant::now() + b.max_wait;
        let mut seen = 1;
        let mut still = 0;
        loop {
            tokio::task::yield_now().await;
            let n = b.queue.lock().len();
            if n >= b.max_batch || Instant::now() >= deadline {
                return;
            }
            if n == seen {
                still += 1;
                if still >= STILL_YIELDS {
                    return;
                }
            } else {
                still = 0;
                seen = n;
            }
        }
    }

    fn flush(&mut self) {
        self.done = true;
        let batch = std::mem::take(&mut *self.batcher.queue.lock());
        self.batcher.run(batch);
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestra_keys::Keypair;

    fn signed(key: &Keypair, i: usize) -> (Vec<u8>, [u8; 64]) {
        let msg = format!("request {i}").into_bytes();
        let sig = key.sign(&msg);
        (msg, sig)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_are_batched_and_forgeries_found() {
        let alice = Keypair::from_uri("//Alice").expect("key");
        let vk = Arc::new(VerifyingKey::new(&alice.public()).expect("vk"));
        let counters = BatchCounters::default();
        let b = Arc::new(Batcher::new(32, Duration::from_millis(2), counters.clone()));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let (b, vk) = (Arc::clone(&b), Arc::clone(&vk));
            let (msg, mut sig) = signed(&alice, i);
            let forged = i % 17 == 5;
            if forged {
                sig[10] ^= 1;
            }
            tasks.push(tokio::spawn(async move { (forged, b.verify(vk, msg, sig).await.0) }));
        }
        for t in tasks {
            let (forged, ok) = t.await.expect("task");
            assert_eq!(ok, !forged);
        }
        assert_eq!(counters.signatures.get(), 200);
        assert!(counters.batches.get() < 200, "some signatures were batched");
        assert!(b.queue.lock().is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_leader_still_answers_its_batch() {
        let alice = Keypair::from_uri("//Alice").expect("key");
        let vk = Arc::new(VerifyingKey::new(&alice.public()).expect("vk"));
        let b = Arc::new(Batcher::new(8, Duration::from_secs(1), BatchCounters::default()));
        let (m0, s0) = signed(&alice, 0);
        let (m1, s1) = signed(&alice, 1);
        // The leader is polled once (queues and yields), then dropped.
        let mut lead = Box::pin(b.verify(Arc::clone(&vk), m0, s0));
        assert!(futures::poll!(lead.as_mut()).is_pending());
        let follower = tokio::spawn({
            let (b, vk) = (Arc::clone(&b), Arc::clone(&vk));
            async move { b.verify(vk, m1, s1).await.0 }
        });
        tokio::task::yield_now().await;
        drop(lead);
        assert!(follower.await.expect("task"));
    }

    #[tokio::test]
    async fn wrapped_messages_still_verify_alone() {
        let alice = Keypair::from_uri("//Alice").expect("key");
        let vk = Arc::new(VerifyingKey::new(&alice.public()).expect("vk"));
        let b = Batcher::new(8, Duration::from_millis(1), BatchCounters::default());
        let msg = b"hello".to_vec();
        let sig = alice.sign(&[b"<Bytes>".as_slice(), &msg, b"</Bytes>"].concat());
        assert!(b.verify(vk, msg, sig).await.0);
    }
}
