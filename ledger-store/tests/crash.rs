//! Crash safety: a writer process is killed with SIGKILL at random points across more than
//! 1,000 acknowledged writes. After every kill the store reopens with every acknowledged write
//! present, and the Merkle root recomputes to exactly what the writer reported when it
//! acknowledged its last write.
//!
//! The writer is this same test binary re-executed with `LEDGER_CRASH_CHILD` set (see
//! `writer_child`), so no extra binary is needed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use orchestra_ledger_store::{ChangeKind, LedgerStore, StoreConfig};

const TOTAL_ACKS: u64 = 1000;

/// The child side: write until killed, acknowledging each committed write on stdout.
#[test]
fn writer_child() {
    let Ok(dir) = std::env::var("LEDGER_CRASH_CHILD") else {
        return; // only meaningful when spawned by `sigkill_loses_nothing_acknowledged`
    };
    let store = LedgerStore::open(StoreConfig::new(&dir)).expect("child open");
    let mut i = store.last_seq();
    loop {
        i += 1;
        let mut e = common::entry((i % 97) as u16);
        e.description = format!("write {i}");
        let ev = store.upsert_entry(e, ChangeKind::EntryUpdated, "crash-writer").expect("write");
        let root = store.root().expect("root");
        // Acknowledge only after the batch is committed (sync write).
        println!("ack {} {}", ev.seq, root);
    }
}

#[test]
fn sigkill_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tmp");
    let exe = std::env::current_exe().expect("exe");
    let mut acked_total = 0u64;
    let mut rounds = 0;
    // Deterministic pseudo-random kill points (xorshift), different every round.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    while acked_total < TOTAL_ACKS {
        rounds += 1;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let kill_after = 20 + rng % 250;
        let mut child = Command::new(&exe)
            .args(["--exact", "writer_child", "--nocapture", "--test-threads", "1"])
            .env("LEDGER_CRASH_CHILD", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        let stdout = child.stdout.take().expect("stdout");
        let mut last: Option<(u64, String)> = None;
        let mut acks = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("line");
            let mut parts = line.split_whitespace();
            if parts.next() != Some("ack") {
                continue;
            }
            let seq: u64 = parts.next().expect("seq").parse().expect("seq int");
            let root = parts.next().expect("root").to_string();
            last = Some((seq, root));
            acks += 1;
            if acks >= kill_after {
                child.kill().expect("SIGKILL");
                break;
            }
        }
        let _ = child.wait();
        let (acked_seq, acked_root) = last.expect("the writer acknowledged at least one write");
        acked_total += acks;

        let store = LedgerStore::open(StoreConfig::new(dir.path())).expect("reopen after SIGKILL");
        let seq = store.last_seq();
        // The write in flight at the kill may have committed without its ack reaching us.
        assert!(seq == acked_seq || seq == acked_seq + 1, "round {rounds}: acked {acked_seq}, store has {seq}");
        let feed = store.changes_since(0, usize::MAX).expect("feed");
        assert_eq!(feed.len() as u64, seq, "round {rounds}: the change feed is dense");
        assert!(feed.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1));
        if seq == acked_seq {
            assert_eq!(store.root().expect("root").to_string(), acked_root, "round {rounds}: root after restart");
        }
        // Recomputing is deterministic across another restart.
        let r1 = store.root().expect("root");
        drop(store);
        let store = LedgerStore::open(StoreConfig::new(dir.path())).expect("reopen");
        assert_eq!(store.root().expect("root"), r1);
    }
    assert!(acked_total >= TOTAL_ACKS && rounds >= 3, "{acked_total} acks over {rounds} rounds");
}
