//! How keys and values become bytes: [`Key`] (an order-preserving key encoding, so a scan in
//! byte order is a scan in key order) and value codecs ([`Encode`] and [`Decode`]: [`Json`] for records,
//! [`BigEndian`] for counters).

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A key type of a [`crate::Keyspace`]. The encoding must preserve order (`a < b` iff
/// `encode(a) < encode(b)` as bytes) for ordered scans and ranges to mean what they say.
pub trait Key: Sized {
    /// Appends the key's bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads a key back from exactly `bytes` (the keyspace's prefix already removed).
    fn decode(bytes: &[u8]) -> Result<Self, String>;
}

/// A key of a fixed width, so it can lead a tuple key.
pub trait FixedKey: Key {
    /// Bytes of the encoding.
    const WIDTH: usize;
}

impl Key for () {
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() { Ok(()) } else { Err(format!("{} unexpected key bytes", bytes.len())) }
    }
}

macro_rules! big_endian_key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode(bytes: &[u8]) -> Result<Self, String> {
                let arr = bytes.try_into().map_err(|_| {
                    format!("{} key bytes, expected {}", bytes.len(), std::mem::size_of::<$t>())
                })?;
                Ok(<$t>::from_be_bytes(arr))
            }
        }
        impl FixedKey for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
        }
    )*};
}

// Big-endian: byte order equals numeric order for unsigned integers.
big_endian_key!(u16, u32, u64);

impl<const N: usize> Key for [u8; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        bytes.try_into().map_err(|_| format!("{} key bytes, expected {N}", bytes.len()))
    }
}

impl<const N: usize> FixedKey for [u8; N] {
    const WIDTH: usize = N;
}

impl Key for String {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        String::from_utf8(bytes.to_vec()).map_err(|e| format!("key is not UTF-8: {e}"))
    }
}

impl Key for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        Ok(bytes.to_vec())
    }
}

/// A fixed-width key followed by any key: ordered by the first, then the second.
impl<A: FixedKey, B: Key> Key for (A, B) {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
        self.1.encode(out);
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < A::WIDTH {
            return Err(format!("{} key bytes, expected at least {}", bytes.len(), A::WIDTH));
        }
        let (a, b) = bytes.split_at(A::WIDTH);
        Ok((A::decode(a)?, B::decode(b)?))
    }
}

/// The writing half of a value codec of a [`crate::Keyspace`] (split from [`Decode`] so a
/// read-only view needs only `Deserialize`).
pub trait Encode<V> {
    /// The stored bytes of `value`.
    fn encode(value: &V) -> Result<Vec<u8>, String>;
}

/// The reading half of a value codec.
pub trait Decode<V> {
    /// The value stored as `bytes`.
    fn decode(bytes: &[u8]) -> Result<V, String>;
}

/// JSON through serde: the encoding of every record. A reader may use a smaller type than the
/// writer (unknown fields are ignored), so a scan can read only a time stamp out of big records.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<V: Serialize> Encode<V> for Json {
    fn encode(value: &V) -> Result<Vec<u8>, String> {
        serde_json::to_vec(value).map_err(|e| e.to_string())
    }
}

impl<V: DeserializeOwned> Decode<V> for Json {
    fn decode(bytes: &[u8]) -> Result<V, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// Unsigned integers as big-endian bytes (counters, sequence numbers).
#[derive(Debug, Clone, Copy, Default)]
pub struct BigEndian;

impl<V: FixedKey> Encode<V> for BigEndian {
    fn encode(value: &V) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(V::WIDTH);
        value.encode(&mut out);
        Ok(out)
    }
}

impl<V: FixedKey> Decode<V> for BigEndian {
    fn decode(bytes: &[u8]) -> Result<V, String> {
        V::decode(bytes)
    }
}

/// Zero-sized type tag: `fn() -> T` keeps a keyspace `Send`, `Sync` and `Copy` whatever `T` is.
pub(crate) type Tag<K, V, C> = PhantomData<fn() -> (K, V, C)>;
