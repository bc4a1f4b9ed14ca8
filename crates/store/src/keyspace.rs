//! Typed keyspaces: [`Keyspace`] (many records: a column family, or a key prefix within one,
//! with a key type and a value codec) and [`Slot`] (one record under one fixed key). Callers
//! declare them as constants and never format or parse key bytes themselves.

use std::ops::{Bound, RangeBounds};

use crate::codec::{Decode, Encode, Json, Key, Tag};
use crate::{Batch, Store, StoreError, printable_key};

/// Records of one kind: keys `K` (encoded after `prefix` in column family `cf`), values `V`
/// encoded by `C`. Reads take the [`Store`]; writes go into a [`Batch`], so several keyspaces
/// can change in one atomic commit.
pub struct Keyspace<K, V, C = Json> {
    cf: &'static str,
    prefix: &'static str,
    _tag: Tag<K, V, C>,
}

// Manual impls: derives would require `K`, `V` and `C` to be `Clone`/`Debug` themselves.
impl<K, V, C> Clone for Keyspace<K, V, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V, C> Copy for Keyspace<K, V, C> {}
impl<K, V, C> std::fmt::Debug for Keyspace<K, V, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace").field("cf", &self.cf).field("prefix", &self.prefix).finish()
    }
}

impl<K, V, C> Keyspace<K, V, C> {
    /// The records of column family `cf` whose keys start with `prefix` (`""`: the whole family).
    pub const fn new(cf: &'static str, prefix: &'static str) -> Self {
        Keyspace { cf, prefix, _tag: std::marker::PhantomData }
    }

    /// The same records read as another value type (e.g. only a time stamp out of a large
    /// record, which [`Json`] allows since unknown fields are ignored).
    pub const fn view<V2, C2>(&self) -> Keyspace<K, V2, C2> {
        Keyspace { cf: self.cf, prefix: self.prefix, _tag: std::marker::PhantomData }
    }

    /// Column family.
    pub fn cf(&self) -> &'static str {
        self.cf
    }

    /// Key prefix within the column family.
    pub fn prefix(&self) -> &'static str {
        self.prefix
    }
}

impl<K: Key, V, C> Keyspace<K, V, C> {
    fn key_bytes(&self, key: &K) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + 16);
        out.extend_from_slice(self.prefix.as_bytes());
        key.encode(&mut out);
        out
    }

    /// Removes the record under `key` (if any) when `batch` is committed.
    pub fn delete(&self, batch: &mut Batch, key: &K) {
        batch.delete(self.cf, self.key_bytes(key));
    }

    /// Every key, in order (values are not decoded).
    pub fn keys(&self, store: &Store) -> Result<Vec<K>, StoreError> {
        let mut out = Vec::new();
        for item in store.raw_iter(self.cf, self.prefix.as_bytes())? {
            let (k, _) = item?;
            if !k.starts_with(self.prefix.as_bytes()) {
                break;
            }
            out.push(K::decode(&k[self.prefix.len()..]).map_err(|reason| StoreError::Corrupt {
                cf: self.cf,
                key: printable_key(&k),
                reason,
            })?);
        }
        Ok(out)
    }
}

impl<K: Key, V, C: Encode<V>> Keyspace<K, V, C> {
    /// Writes `value` under `key` when `batch` is committed.
    pub fn put(&self, batch: &mut Batch, key: &K, value: &V) -> Result<(), StoreError> {
        let v = C::encode(value).map_err(|reason| StoreError::Encode { cf: self.cf, reason })?;
        batch.put(self.cf, self.key_bytes(key), v);
        Ok(())
    }
}

impl<K: Key, V, C: Decode<V>> Keyspace<K, V, C> {
    /// The record under `key`, if any.
    pub fn get(&self, store: &Store, key: &K) -> Result<Option<V>, StoreError> {
        let k = self.key_bytes(key);
        match store.get_raw(self.cf, &k)? {
            None => Ok(None),
            Some(b) => C::decode(&b).map(Some).map_err(|reason| StoreError::Corrupt {
                cf: self.cf,
                key: printable_key(&k),
                reason,
            }),
        }
    }

    /// The records with keys in `range`, in key order, decoded lazily (stop early for a limit).
    pub fn iter<'s>(
        &self,
        store: &'s Store,
        range: impl RangeBounds<K>,
    ) -> Result<impl Iterator<Item = Result<(K, V), StoreError>> + 's, StoreError>
    where
        K: 's,
        V: 's,
        C: 's,
    {
        let ks = *self;
        let bounds = |b: Bound<&K>| match b {
            Bound::Included(k) => Bound::Included(ks.key_bytes(k)),
            Bound::Excluded(k) => Bound::Excluded(ks.key_bytes(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let (start, end) = (bounds(range.start_bound()), bounds(range.end_bound()));
        let from = match &start {
            Bound::Included(b) | Bound::Excluded(b) => b.clone(),
            Bound::Unbounded => ks.prefix.as_bytes().to_vec(),
        };
        let raw = store.raw_iter(ks.cf, &from)?;
        let it = raw
            .skip_while(
                move |item| matches!((item, &start), (Ok((k, _)), Bound::Excluded(s)) if k.as_ref() == s.as_slice()),
            )
            .take_while(move |item| match item {
                Err(_) => true,
                Ok((k, _)) => {
                    k.starts_with(ks.prefix.as_bytes())
                        && match &end {
                            Bound::Included(e) => k.as_ref() <= e.as_slice(),
                            Bound::Excluded(e) => k.as_ref() < e.as_slice(),
                            Bound::Unbounded => true,
                        }
                }
            })
            .map(move |item| {
                let (k, v) = item?;
                let corrupt = |reason| StoreError::Corrupt { cf: ks.cf, key: printable_key(&k), reason };
                let key = K::decode(&k[ks.prefix.len()..]).map_err(corrupt)?;
                let value = C::decode(&v).map_err(corrupt)?;
                Ok((key, value))
            });
        Ok(it)
    }

    /// Every record, in key order.
    pub fn scan(&self, store: &Store) -> Result<Vec<(K, V)>, StoreError> {
        self.iter(store, ..)?.collect()
    }

    /// The records with keys in `range`, in key order.
    pub fn range(&self, store: &Store, range: impl RangeBounds<K>) -> Result<Vec<(K, V)>, StoreError> {
        self.iter(store, range)?.collect()
    }
}

/// One record under one fixed key (a status, a journal, a counter).
pub struct Slot<V, C = Json> {
    cf: &'static str,
    key: &'static str,
    _tag: Tag<(), V, C>,
}

impl<V, C> Clone for Slot<V, C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<V, C> Copy for Slot<V, C> {}
impl<V, C> std::fmt::Debug for Slot<V, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("cf", &self.cf).field("key", &self.key).finish()
    }
}

impl<V, C> Slot<V, C> {
    /// The record under `key` in column family `cf`.
    pub const fn new(cf: &'static str, key: &'static str) -> Self {
        Slot { cf, key, _tag: std::marker::PhantomData }
    }
}

impl<V, C> Slot<V, C> {
    const fn space(&self) -> Keyspace<(), V, C> {
        Keyspace::new(self.cf, self.key)
    }

    /// Removes the record when `batch` is committed.
    pub fn delete(&self, batch: &mut Batch) {
        self.space().delete(batch, &())
    }
}

impl<V, C: Decode<V>> Slot<V, C> {
    /// The record, if written.
    pub fn get(&self, store: &Store) -> Result<Option<V>, StoreError> {
        self.space().get(store, &())
    }
}

impl<V, C: Encode<V>> Slot<V, C> {
    /// Writes the record when `batch` is committed.
    pub fn put(&self, batch: &mut Batch, value: &V) -> Result<(), StoreError> {
        self.space().put(batch, &(), value)
    }
}
