//! The engine's promises: typed round trips, ordered scans and ranges, all-or-nothing batches,
//! acknowledged writes surviving a reopen, and a clear refusal of another schema version.

use orchestra_store::{Batch, BigEndian, Keyspace, Schema, Slot, Store, StoreConfig, StoreError};
use serde::{Deserialize, Serialize};

const CF_A: &str = "a";
const CF_B: &str = "b";
const SCHEMA: Schema = Schema { name: "test", version: 1, column_families: &[CF_A, CF_B] };

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rec {
    name: String,
    at_ms: u64,
}

/// Records by string id, under a prefix shared with other keyspaces of the same family.
const RECS: Keyspace<String, Rec> = Keyspace::new(CF_A, "rec/");
const OTHER: Keyspace<String, u32> = Keyspace::new(CF_A, "other/");
/// Fixed-width tuple keys in a family of their own.
const VERSIONS: Keyspace<(u16, u64), String> = Keyspace::new(CF_B, "");
const COUNTER: Slot<u64, BigEndian> = Slot::new(CF_A, "counter");

fn open(dir: &std::path::Path) -> Store {
    Store::open(&StoreConfig::new(dir), SCHEMA).expect("open")
}

fn rec(name: &str, at_ms: u64) -> Rec {
    Rec { name: name.into(), at_ms }
}

#[test]
fn typed_keyspaces_round_trip() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(dir.path());
    let mut b = Batch::new();
    RECS.put(&mut b, &"x".into(), &rec("x", 1)).expect("put");
    OTHER.put(&mut b, &"x".into(), &7).expect("put");
    VERSIONS.put(&mut b, &(3, 2), &"v2".into()).expect("put");
    COUNTER.put(&mut b, &41).expect("put");
    s.commit(b).expect("commit");

    assert_eq!(RECS.get(&s, &"x".into()).expect("get"), Some(rec("x", 1)));
    assert_eq!(RECS.get(&s, &"y".into()).expect("get"), None);
    assert_eq!(OTHER.get(&s, &"x".into()).expect("get"), Some(7), "same key, other prefix");
    assert_eq!(VERSIONS.get(&s, &(3, 2)).expect("get"), Some("v2".into()));
    assert_eq!(COUNTER.get(&s).expect("get"), Some(41));

    // A narrower view of the same records reads only what it names.
    #[derive(Deserialize)]
    struct Stamp {
        at_ms: u64,
    }
    let stamps = RECS.view::<Stamp, orchestra_store::Json>().scan(&s).expect("scan");
    assert_eq!(stamps.len(), 1);
    assert_eq!(stamps[0].1.at_ms, 1);

    let mut b = Batch::new();
    RECS.delete(&mut b, &"x".into());
    COUNTER.delete(&mut b);
    s.commit(b).expect("commit");
    assert_eq!(RECS.get(&s, &"x".into()).expect("get"), None);
    assert_eq!(COUNTER.get(&s).expect("get"), None);
    assert_eq!(OTHER.get(&s, &"x".into()).expect("get"), Some(7), "untouched");
}

#[test]
fn scans_and_ranges_are_ordered_and_stay_in_their_keyspace() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(dir.path());
    let mut b = Batch::new();
    for id in ["c", "a", "b"] {
        RECS.put(&mut b, &id.to_string(), &rec(id, 0)).expect("put");
    }
    OTHER.put(&mut b, &"a".into(), &1).expect("put");
    COUNTER.put(&mut b, &1).expect("put");
    // Big-endian keys: 256 sorts after 2, netuid before version.
    for (n, v) in [(2u16, 256u64), (1, 9), (2, 2), (2, 1), (3, 0)] {
        VERSIONS.put(&mut b, &(n, v), &format!("{n}.{v}")).expect("put");
    }
    s.commit(b).expect("commit");

    let ids: Vec<String> = RECS.scan(&s).expect("scan").into_iter().map(|(k, _)| k).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(RECS.keys(&s).expect("keys"), ["a", "b", "c"]);
    assert_eq!(OTHER.keys(&s).expect("keys"), ["a"]);

    let of2: Vec<String> =
        VERSIONS.range(&s, (2, 0)..=(2, u64::MAX)).expect("range").into_iter().map(|x| x.1).collect();
    assert_eq!(of2, ["2.1", "2.2", "2.256"]);
    let after: Vec<(u16, u64)> = VERSIONS
        .iter(&s, (std::ops::Bound::Excluded((2, 1)), std::ops::Bound::Unbounded))
        .expect("iter")
        .take(3)
        .map(|x| x.expect("item").0)
        .collect();
    assert_eq!(after, [(2, 2), (2, 256), (3, 0)]);
    let below: Vec<String> = RECS.range(&s, .."b".to_string()).expect("range").into_iter().map(|x| x.0).collect();
    assert_eq!(below, ["a"]);
}

#[test]
fn a_batch_lands_whole_or_not_at_all() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = open(dir.path());
    let mut b = Batch::new();
    RECS.put(&mut b, &"kept".into(), &rec("kept", 1)).expect("put");
    s.commit(b).expect("commit");

    // A write to a column family the schema does not declare fails the whole batch.
    const STRAY: Keyspace<String, u32> = Keyspace::new("undeclared", "");
    let mut b = Batch::new();
    RECS.put(&mut b, &"new".into(), &rec("new", 2)).expect("put");
    RECS.delete(&mut b, &"kept".into());
    STRAY.put(&mut b, &"x".into(), &1).expect("put");
    assert_eq!(b.len(), 3);
    let err = s.commit(b).expect_err("undeclared family");
    assert!(matches!(err, StoreError::UnknownColumnFamily("undeclared")), "{err}");
    assert_eq!(RECS.get(&s, &"new".into()).expect("get"), None, "no write of the batch landed");
    assert_eq!(RECS.get(&s, &"kept".into()).expect("get"), Some(rec("kept", 1)));

    // Writes apply in order: the later one wins.
    let mut b = Batch::new();
    RECS.put(&mut b, &"k".into(), &rec("first", 1)).expect("put");
    RECS.delete(&mut b, &"k".into());
    RECS.put(&mut b, &"k".into(), &rec("last", 3)).expect("put");
    s.commit(b).expect("commit");
    assert_eq!(RECS.get(&s, &"k".into()).expect("get"), Some(rec("last", 3)));
}

#[test]
fn acknowledged_writes_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let s = open(dir.path());
        assert!(s.sync_writes(), "synced by default");
        for i in 0..50u64 {
            let mut b = Batch::new();
            RECS.put(&mut b, &format!("r{i:03}"), &rec("r", i)).expect("put");
            COUNTER.put(&mut b, &(i + 1)).expect("put");
            s.commit(b).expect("commit");
        }
    }
    let s = open(dir.path());
    assert_eq!(RECS.scan(&s).expect("scan").len(), 50);
    assert_eq!(COUNTER.get(&s).expect("get"), Some(50));
    assert_eq!(s.schema_version().expect("version"), 1);
}

#[test]
fn another_schema_version_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = StoreConfig::new(dir.path());
    drop(Store::open(&cfg, Schema { version: 2, ..SCHEMA }).expect("open v2"));

    let err = Store::open(&cfg, SCHEMA).expect_err("v2 database under a v1 binary");
    assert!(matches!(err, StoreError::SchemaTooNew { found: 2, supported: 1, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("schema version 2") && msg.contains("upgrade"), "{msg}");

    // Older, with no migration step: refused; with one: migrated in the same batch as the stamp.
    let v3 = Schema { version: 3, ..SCHEMA };
    let err = Store::open(&cfg, v3).expect_err("no migration from 2");
    assert!(matches!(err, StoreError::SchemaTooOld { found: 2, supported: 3, .. }), "{err}");
    let s = Store::open_with_migration(&cfg, v3, |_, from, b| {
        assert_eq!(from, 2);
        COUNTER.put(b, &99)
    })
    .expect("migrate");
    assert_eq!(s.schema_version().expect("version"), 3);
    assert_eq!(COUNTER.get(&s).expect("get"), Some(99));
}

#[test]
fn column_families_on_disk_but_not_in_the_schema_do_not_block_opening() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = StoreConfig::new(dir.path());
    {
        let wide = Schema { name: "wide", version: 1, column_families: &[CF_A, CF_B, "extra"] };
        let s = Store::open(&cfg, wide).expect("open wide");
        let mut b = Batch::new();
        RECS.put(&mut b, &"x".into(), &rec("x", 1)).expect("put");
        s.commit(b).expect("commit");
    }
    let narrow = Schema { name: "narrow", version: 1, column_families: &[CF_A] };
    let s = Store::open(&cfg, narrow).expect("open narrow");
    assert_eq!(RECS.get(&s, &"x".into()).expect("get"), Some(rec("x", 1)));
    assert!(matches!(VERSIONS.get(&s, &(1, 1)), Err(StoreError::UnknownColumnFamily(CF_B))));
}
