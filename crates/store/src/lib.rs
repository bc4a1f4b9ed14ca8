//! The storage engine every durable record of Orchestra goes through: one RocksDB database per
//! [`Store`], opened with the column families its [`Schema`] declares, stamped with the schema's
//! version (a migration hook runs on older databases), written only in atomic [`Batch`]es that
//! are fsynced by default (a write acknowledged to a caller survives a crash of the process or
//! the machine), and read and written through typed [`Keyspace`]s and [`Slot`]s, so no caller
//! formats key bytes by hand.
//!
//! This is the only crate that links RocksDB. The Ledger (`orchestra-ledger-store`), the devnet,
//! the miner and the validator each declare their own schema and keyspaces on top of it.
//!
//! - [`codec`]: key encodings ([`Key`], order-preserving) and value codecs ([`Json`], [`BigEndian`]).
//! - [`keyspace`]: [`Keyspace`] and [`Slot`].

pub mod codec;
mod error;
pub mod keyspace;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, WriteBatch, WriteOptions};

pub use codec::{BigEndian, Decode, Encode, FixedKey, Json, Key};
pub use error::StoreError;
pub use keyspace::{Keyspace, Slot};

/// The column family the engine keeps its own metadata in (the schema version). Schemas may put
/// their own records there too, under other keys.
pub const META_CF: &str = "meta";
/// Key of the schema version in [`META_CF`]: a big-endian `u32` (the Ledger's layout since its
/// first version, so existing databases open unchanged).
const SCHEMA_KEY: &str = "schema_version";
const SCHEMA_VERSION: Slot<u32, BigEndian> = Slot::new(META_CF, SCHEMA_KEY);

/// Where a store lives and how it writes.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The database directory (created if missing).
    pub path: PathBuf,
    /// fsync every batch (default). Off only for benchmarks and throwaway test stores.
    pub sync_writes: bool,
}

impl StoreConfig {
    /// A synced store in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig { path: path.into(), sync_writes: true }
    }
}

/// What a database holds: its name (for error messages), layout version and column families.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Names the kind of database in errors ("ledger", "devnet", ...).
    pub name: &'static str,
    /// The layout this binary reads and writes. Bump it, with a migration step, for any change
    /// to keys or record layouts.
    pub version: u32,
    /// The column families keyspaces may use ([`META_CF`] is always there).
    pub column_families: &'static [&'static str],
}

/// An open database.
pub struct Store {
    db: DB,
    path: PathBuf,
    write_opts: WriteOptions,
    sync_writes: bool,
    schema: Schema,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).field("schema", &self.schema.name).finish()
    }
}

impl Store {
    /// Opens (creating if needed) a database of `schema`. A new database is stamped with the
    /// schema's version; an older stamped one is refused ([`Store::open_with_migration`] brings
    /// it up to date), a newer one too.
    pub fn open(config: &StoreConfig, schema: Schema) -> Result<Store, StoreError> {
        Self::open_with_migration(config, schema, |store, found, _| {
            if found == 0 {
                return Ok(());
            }
            Err(StoreError::SchemaTooOld {
                schema: store.schema.name,
                path: store.path.clone(),
                found,
                supported: store.schema.version,
            })
        })
    }

    /// Opens (creating if needed) a database of `schema`; when its stamped version is older than
    /// `schema.version` (0: new, or written before versions were stamped), `migrate` is called
    /// with the store and that version to add its conversion to the batch that stamps the new
    /// version, so a migration lands entirely or not at all.
    pub fn open_with_migration(
        config: &StoreConfig,
        schema: Schema,
        migrate: impl FnOnce(&Store, u32, &mut Batch) -> Result<(), StoreError>,
    ) -> Result<Store, StoreError> {
        let db_err = |source| StoreError::Db { path: config.path.clone(), source };
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // RocksDB refuses to open a database without naming every column family on disk, so
        // ones this schema does not use (a database shared with an older layout) are opened
        // too; keyspaces can only reach the declared ones.
        let mut names: BTreeSet<String> = schema.column_families.iter().map(|s| s.to_string()).collect();
        names.insert(META_CF.to_string());
        if config.path.join("CURRENT").exists() {
            names.extend(DB::list_cf(&opts, &config.path).map_err(db_err)?);
        }
        let cfs = names.iter().map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, &config.path, cfs).map_err(db_err)?;
        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(config.sync_writes);
        let store = Store { db, path: config.path.clone(), write_opts, sync_writes: config.sync_writes, schema };
        let found = store.schema_version()?;
        if found > schema.version {
            return Err(StoreError::SchemaTooNew {
                schema: schema.name,
                path: store.path.clone(),
                found,
                supported: schema.version,
            });
        }
        if found < schema.version {
            let mut batch = Batch::default();
            migrate(&store, found, &mut batch)?;
            SCHEMA_VERSION.put(&mut batch, &schema.version)?;
            store.commit(batch)?;
            tracing::info!(schema = schema.name, from = found, to = schema.version, path = %store.path.display(), "store migrated");
        }
        Ok(store)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether every batch is fsynced.
    pub fn sync_writes(&self) -> bool {
        self.sync_writes
    }

    /// The schema this store was opened with.
    pub fn schema(&self) -> Schema {
        self.schema
    }

    /// The version stamped in the database (0 when none is).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(SCHEMA_VERSION.get(self)?.unwrap_or(0))
    }

    /// Applies `batch` atomically: every write in it lands, in order, or none does. With
    /// `sync_writes` it is on disk when this returns. One fsync however many writes it holds.
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut wb = WriteBatch::default();
        for op in batch.ops {
            match op {
                Op::Put(cf, k, v) => wb.put_cf(self.cf(cf)?, k, v),
                Op::Delete(cf, k) => wb.delete_cf(self.cf(cf)?, k),
            }
        }
        self.db.write_opt(wb, &self.write_opts).map_err(|e| self.db_err(e))
    }

    fn db_err(&self, source: rocksdb::Error) -> StoreError {
        StoreError::Db { path: self.path.clone(), source }
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        if name != META_CF && !self.schema.column_families.contains(&name) {
            return Err(StoreError::UnknownColumnFamily(name));
        }
        self.db.cf_handle(name).ok_or(StoreError::UnknownColumnFamily(name))
    }

    pub(crate) fn get_raw(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get_cf(self.cf(cf)?, key).map_err(|e| self.db_err(e))
    }

    /// Raw `(key, value)` pairs of `cf` from `from` on, in key order.
    /// The iterator seeks on creation, so it borrows the store but not `from`.
    pub(crate) fn raw_iter<'s>(
        &'s self,
        cf: &'static str,
        from: &[u8],
    ) -> Result<impl Iterator<Item = Result<RawPair, StoreError>> + use<'s>, StoreError> {
        let it = self.db.iterator_cf(self.cf(cf)?, IteratorMode::From(from, Direction::Forward));
        Ok(it.map(|item| item.map_err(|e| self.db_err(e))))
    }
}

/// A stored `(key, value)` as RocksDB returns it.
type RawPair = (Box<[u8]>, Box<[u8]>);

enum Op {
    Put(&'static str, Vec<u8>, Vec<u8>),
    Delete(&'static str, Vec<u8>),
}

/// Writes gathered for one atomic [`Store::commit`], applied in the order they were added (a
/// later write to a key wins). Built by [`Keyspace::put`], [`Keyspace::delete`] and [`Slot`].
#[derive(Default)]
pub struct Batch {
    ops: Vec<Op>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("len", &self.ops.len()).finish()
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    pub(crate) fn put(&mut self, cf: &'static str, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op::Put(cf, key, value));
    }

    pub(crate) fn delete(&mut self, cf: &'static str, key: Vec<u8>) {
        self.ops.push(Op::Delete(cf, key));
    }

    /// Appends `other`'s writes after this batch's.
    pub fn append(&mut self, other: Batch) {
        self.ops.extend(other.ops);
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A key for error messages: as text when it is UTF-8 text, else hex.
pub(crate) fn printable_key(k: &[u8]) -> String {
    match std::str::from_utf8(k) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_string(),
        _ => k.iter().map(|b| format!("{b:02x}")).collect(),
    }
}
