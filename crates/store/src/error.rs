//! [`StoreError`], the one error type of the storage engine.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB itself failed (I/O, the lock held by another process, corruption it detected).
    #[error("RocksDB at {path}: {source}")]
    Db {
        /// The database directory.
        path: PathBuf,
        /// What RocksDB said.
        source: rocksdb::Error,
    },
    /// A stored key or value cannot be decoded as its keyspace's types.
    #[error("stored record under `{key}` in `{cf}` is corrupt: {reason}")]
    Corrupt {
        /// Column family.
        cf: &'static str,
        /// The key, printable (UTF-8 if it is, else hex).
        key: String,
        /// What the codec said.
        reason: String,
    },
    /// A value could not be encoded (a type whose serialization can fail).
    #[error("cannot encode a record for `{cf}`: {reason}")]
    Encode {
        /// Column family.
        cf: &'static str,
        /// What the codec said.
        reason: String,
    },
    /// The database was written by a newer binary.
    #[error(
        "the {schema} database at {path} has schema version {found}, newer than this binary supports ({supported}); upgrade orchestra"
    )]
    SchemaTooNew {
        /// Schema name.
        schema: &'static str,
        /// The database directory.
        path: PathBuf,
        /// Version on disk.
        found: u32,
        /// Version this binary writes.
        supported: u32,
    },
    /// The database has an older schema version and no migration step was given for it.
    #[error(
        "the {schema} database at {path} has schema version {found} and this binary expects {supported}, with no migration from {found}"
    )]
    SchemaTooOld {
        /// Schema name.
        schema: &'static str,
        /// The database directory.
        path: PathBuf,
        /// Version on disk.
        found: u32,
        /// Version this binary writes.
        supported: u32,
    },
    /// A keyspace names a column family the store was not opened with.
    #[error("column family `{0}` is not declared by this store's schema")]
    UnknownColumnFamily(&'static str),
    /// A migration step refused the stored data.
    #[error("migrating from schema version {from}: {reason}")]
    Migration {
        /// The version migrated from.
        from: u32,
        /// What is wrong.
        reason: String,
    },
}
