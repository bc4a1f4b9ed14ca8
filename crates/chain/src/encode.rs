//! Pure chain encodings, independent of any connection: the commit-reveal v2 hash, the mechanism
//! storage index, the remark hash, and the SCALE encoding of the Commitments pallet's `Data` enum
//! and `CommitmentInfo`. It depends on [`crate::types`] (it encodes those types), never the other
//! way round: the encodings of a type live here, as `impl` blocks.

use parity_scale_codec::{Compact, Decode, Encode, Input, Output};

use crate::types::{CommitmentData, NetUid, WeightsReveal};

/// Subnet ids are below this; mechanism `m` of subnet `n` is stored at `m * 4096 + n`
/// (`GLOBAL_MAX_SUBNET_COUNT`, subtensor `subnets/mechanism.rs`).
pub const GLOBAL_MAX_SUBNET_COUNT: u16 = 4096;

/// BLAKE2-256 of a remark: what `System.remark_with_event` puts in its `Remarked` event.
pub fn remark_hash(remark: &[u8]) -> [u8; 32] {
    <sp_core::Blake2Hasher as sp_core::Hasher>::hash(remark).0
}

/// Most raw bytes a `Raw` field holds (`Raw128`).
pub const MAX_RAW_LEN: usize = 128;
/// Most bytes a `BigRaw` field holds (`MAX_BIGRAW_COMMITMENT_SIZE_BYTES`).
pub const MAX_BIG_RAW_LEN: usize = 512;
/// Most bytes of a `TimelockEncrypted` field (`MAX_TIMELOCK_COMMITMENT_SIZE_BYTES`).
pub const MAX_TIMELOCK_LEN: usize = 1024;

/// `NetUidStorageIndex` of mechanism `mechanism` of `netuid`: `mechanism * 4096 + netuid`. For the
/// main mechanism (0) it is the netuid itself. Wraps like the chain's u16 arithmetic would not, so
/// callers should keep `netuid < 4096` and `mechanism < 16` (the chain's limits).
pub fn netuid_index(netuid: NetUid, mechanism: u8) -> u16 {
    u16::from(mechanism).wrapping_mul(GLOBAL_MAX_SUBNET_COUNT).wrapping_add(netuid)
}

/// The commit-reveal v2 hash subtensor checks at reveal (`get_commit_hash` in
/// `subnets/weights.rs`): `BlakeTwo256::hash_of(&(who, netuid_index, uids, values, salt,
/// version_key))`, i.e. blake2-256 of the SCALE encoding of
/// `(AccountId32, u16, Vec<u16>, Vec<u16>, Vec<u16>, u64)`.
pub fn commit_hash(
    account: &[u8; 32],
    netuid_index: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u16],
    version_key: u64,
) -> [u8; 32] {
    // `[u8; 32]` encodes as its 32 raw bytes, exactly as AccountId32 does.
    let preimage = (account, netuid_index, uids, values, salt, version_key).encode();
    <sp_core::Blake2Hasher as sp_core::Hasher>::hash(&preimage).0
}

impl WeightsReveal {
    /// The hash to commit for this reveal by `hotkey` (its 32-byte public key) on `netuid`
    /// (see [`commit_hash`]).
    pub fn commit_hash(&self, hotkey: &[u8; 32], netuid: NetUid) -> [u8; 32] {
        commit_hash(
            hotkey,
            netuid_index(netuid, self.mechanism),
            &self.uids,
            &self.values,
            &self.salt,
            self.version_key,
        )
    }
}

impl CommitmentData {
    /// Raw bytes as the smallest field that holds them: `Raw` up to 128 bytes, `BigRaw` up to 512.
    /// The Python SDK publishes and reads `Raw` only.
    pub fn from_bytes(data: &[u8]) -> Option<CommitmentData> {
        if data.len() <= MAX_RAW_LEN {
            Some(CommitmentData::Raw(data.to_vec()))
        } else if data.len() <= MAX_BIG_RAW_LEN {
            Some(CommitmentData::BigRaw(data.to_vec()))
        } else {
            None
        }
    }

    /// Whether the field fits the chain's bounds (Raw ≤ 128, BigRaw ≤ 512, timelock ≤ 1024 bytes).
    pub fn fits(&self) -> bool {
        match self {
            CommitmentData::Raw(b) => b.len() <= MAX_RAW_LEN,
            CommitmentData::BigRaw(b) => b.len() <= MAX_BIG_RAW_LEN,
            CommitmentData::TimelockEncrypted { encrypted, .. } => encrypted.len() <= MAX_TIMELOCK_LEN,
            _ => true,
        }
    }

    /// The variant's name in the runtime metadata (`Raw5`, `BigRaw`, `Sha256`, …).
    pub fn metadata_variant_name(&self) -> String {
        match self {
            CommitmentData::None => "None".into(),
            CommitmentData::Raw(b) => format!("Raw{}", b.len()),
            CommitmentData::BlakeTwo256(_) => "BlakeTwo256".into(),
            CommitmentData::Sha256(_) => "Sha256".into(),
            CommitmentData::Keccak256(_) => "Keccak256".into(),
            CommitmentData::ShaThree256(_) => "ShaThree256".into(),
            CommitmentData::TimelockEncrypted { .. } => "TimelockEncrypted".into(),
            CommitmentData::ResetBondsFlag => "ResetBondsFlag".into(),
            CommitmentData::BigRaw(_) => "BigRaw".into(),
        }
    }
}

/// The pallet's custom encoding (pallets/commitments/src/types.rs): a one-byte tag, `0` None,
/// `1..=129` Raw with `tag - 1` bytes and no length prefix, `130..=133` the 32-byte hashes,
/// `134` TimelockEncrypted (`Vec<u8>` then `u64`), `135` ResetBondsFlag, `136` BigRaw (`Vec<u8>`).
/// A Raw longer than 128 bytes is truncated to 128 like the pallet's own `Encode`; check
/// [`CommitmentData::fits`] first.
impl Encode for CommitmentData {
    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        match self {
            CommitmentData::None => dest.push_byte(0),
            CommitmentData::Raw(b) => {
                let n = b.len().min(MAX_RAW_LEN);
                // n ≤ 128, so n + 1 fits a u8.
                dest.push_byte(n as u8 + 1);
                dest.write(&b[..n]);
            }
            CommitmentData::BlakeTwo256(h) => {
                dest.push_byte(130);
                dest.write(h);
            }
            CommitmentData::Sha256(h) => {
                dest.push_byte(131);
                dest.write(h);
            }
            CommitmentData::Keccak256(h) => {
                dest.push_byte(132);
                dest.write(h);
            }
            CommitmentData::ShaThree256(h) => {
                dest.push_byte(133);
                dest.write(h);
            }
            CommitmentData::TimelockEncrypted { encrypted, reveal_round } => {
                dest.push_byte(134);
                encrypted.encode_to(dest);
                reveal_round.encode_to(dest);
            }
            CommitmentData::ResetBondsFlag => dest.push_byte(135),
            CommitmentData::BigRaw(b) => {
                dest.push_byte(136);
                b.encode_to(dest);
            }
        }
    }
}

impl Decode for CommitmentData {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        let tag = input.read_byte()?;
        Ok(match tag {
            0 => CommitmentData::None,
            1..=129 => {
                let mut b = vec![0u8; usize::from(tag - 1)];
                input.read(&mut b)?;
                CommitmentData::Raw(b)
            }
            130 => CommitmentData::BlakeTwo256(<[u8; 32]>::decode(input)?),
            131 => CommitmentData::Sha256(<[u8; 32]>::decode(input)?),
            132 => CommitmentData::Keccak256(<[u8; 32]>::decode(input)?),
            133 => CommitmentData::ShaThree256(<[u8; 32]>::decode(input)?),
            134 => {
                let encrypted = bounded_bytes(input, MAX_TIMELOCK_LEN)?;
                let reveal_round = u64::decode(input)?;
                CommitmentData::TimelockEncrypted { encrypted, reveal_round }
            }
            135 => CommitmentData::ResetBondsFlag,
            136 => CommitmentData::BigRaw(bounded_bytes(input, MAX_BIG_RAW_LEN)?),
            _ => return Err("invalid Data tag".into()),
        })
    }
}

/// A `BoundedVec<u8, max>`: compact length, then the bytes; longer than `max` is an error.
fn bounded_bytes<I: Input>(input: &mut I, max: usize) -> Result<Vec<u8>, parity_scale_codec::Error> {
    let len = Compact::<u32>::decode(input)?.0 as usize;
    if len > max {
        return Err("bounded vector longer than its bound".into());
    }
    let mut b = vec![0u8; len];
    input.read(&mut b)?;
    Ok(b)
}

/// SCALE encoding of `CommitmentInfo { fields: BoundedVec<Data, MaxFields> }`: a compact count
/// then each field.
pub fn encode_commitment_info(fields: &[CommitmentData]) -> Vec<u8> {
    fields.encode()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn data_tags_and_layout() {
        assert_eq!(CommitmentData::None.encode(), vec![0]);
        assert_eq!(CommitmentData::Raw(vec![]).encode(), vec![1]);
        assert_eq!(CommitmentData::Raw(b"abc".to_vec()).encode(), vec![4, b'a', b'b', b'c']);
        let r128 = CommitmentData::Raw(vec![7; 128]).encode();
        assert_eq!((r128[0], r128.len()), (129, 129));
        let h = [9u8; 32];
        for (d, tag) in [
            (CommitmentData::BlakeTwo256(h), 130),
            (CommitmentData::Sha256(h), 131),
            (CommitmentData::Keccak256(h), 132),
            (CommitmentData::ShaThree256(h), 133),
        ] {
            let e = d.encode();
            assert_eq!(e[0], tag);
            assert_eq!(&e[1..], &h);
            assert_eq!(CommitmentData::decode(&mut &e[..]).unwrap(), d);
        }
        let t = CommitmentData::TimelockEncrypted { encrypted: vec![1, 2], reveal_round: 0x0102 };
        assert_eq!(t.encode(), vec![134, 8, 1, 2, 2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(CommitmentData::ResetBondsFlag.encode(), vec![135]);
        let big = CommitmentData::BigRaw(vec![5; 200]);
        let e = big.encode();
        // 200 as compact: (200 << 2) | 1 = 801 = 0x0321, little endian.
        assert_eq!(&e[..3], &[136, 0x21, 0x03]);
        assert_eq!(e.len(), 3 + 200);
        for d in [CommitmentData::None, CommitmentData::Raw(vec![1; 77]), t, CommitmentData::ResetBondsFlag, big] {
            assert_eq!(CommitmentData::decode(&mut &d.encode()[..]).unwrap(), d);
        }
        assert!(CommitmentData::decode(&mut &[137u8][..]).is_err());
        assert!(CommitmentData::decode(&mut &[3u8, 1][..]).is_err(), "truncated Raw2");
        let mut too_big = vec![136u8];
        too_big.extend(Compact(513u32).encode());
        too_big.extend(vec![0; 513]);
        assert!(CommitmentData::decode(&mut &too_big[..]).is_err());
    }

    #[test]
    fn from_bytes_picks_raw_or_big_raw() {
        assert_eq!(CommitmentData::from_bytes(b"x"), Some(CommitmentData::Raw(b"x".to_vec())));
        assert!(matches!(CommitmentData::from_bytes(&[0; 128]), Some(CommitmentData::Raw(_))));
        assert!(matches!(CommitmentData::from_bytes(&[0; 129]), Some(CommitmentData::BigRaw(_))));
        assert!(matches!(CommitmentData::from_bytes(&[0; 512]), Some(CommitmentData::BigRaw(_))));
        assert_eq!(CommitmentData::from_bytes(&[0; 513]), None);
        assert!(!CommitmentData::Raw(vec![0; 129]).fits());
        assert_eq!(CommitmentData::Raw(vec![0; 5]).metadata_variant_name(), "Raw5");
    }

    #[test]
    fn commitment_info_is_a_vec_of_data() {
        let e = encode_commitment_info(&[CommitmentData::Raw(b"hi".to_vec())]);
        assert_eq!(e, vec![4, 3, b'h', b'i']);
    }

    #[test]
    fn netuid_index_of_mechanisms() {
        assert_eq!(netuid_index(7, 0), 7);
        assert_eq!(netuid_index(7, 1), 4103);
        assert_eq!(netuid_index(0, 15), 61440);
    }

    const ALICE: [u8; 32] = [
        0xd4, 0x35, 0x93, 0xc7, 0x15, 0xfd, 0xd3, 0x1c, 0x61, 0x14, 0x1a, 0xbd, 0x04, 0xa9, 0x9f, 0xd6, 0x82, 0x2c,
        0x85, 0x58, 0x85, 0x4c, 0xcd, 0xe3, 0x9a, 0x56, 0x84, 0xe7, 0xa5, 0x6d, 0xa2, 0x7d,
    ];

    /// Expected hashes computed independently with the Python SDK (bittensor 10.5.0, in
    /// /tmp/btref/venv10):
    /// `bittensor.utils.weight_utils.generate_weight_hash(address, netuid, uids, values, version_key, salt)`,
    /// which hashes with `hashlib.blake2b(digest_size=32)` over scalecodec encodings. Alice is
    /// `5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY`, Bob `5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty`.
    #[test]
    fn commit_hash_matches_the_python_sdk() {
        // generate_weight_hash(alice, 1, [0,1,2], [26214,39321,65535], 0, [1,2,3,4,5,6,7,8])
        let h = commit_hash(&ALICE, 1, &[0, 1, 2], &[26214, 39321, 65535], &[1, 2, 3, 4, 5, 6, 7, 8], 0);
        assert_eq!(hex::encode(h), "f5a99d8ffa90310bdecf963256db908119ca83a494f9094694c90e1301e41034");

        // Mechanism 1 of subnet 7 (index 4103), 70 entries (two-byte compact lengths), big key:
        // generate_weight_hash(alice, 4103, list(range(70)), [(i*937)%65536 for i in range(70)],
        //                      123456789012, [65535, 0, 42])
        let uids: Vec<u16> = (0..70).collect();
        let vals: Vec<u16> = (0..70u32).map(|i| ((i * 937) % 65536) as u16).collect();
        let h = commit_hash(&ALICE, netuid_index(7, 1), &uids, &vals, &[65535, 0, 42], 123_456_789_012);
        assert_eq!(hex::encode(h), "bc77a3240d7f5e739c9d9b2c0a6e0f332ef1aaaeaad862f4b8a4c20e78b4db8b");

        // Empty vectors, u64::MAX key: generate_weight_hash(bob, 0, [], [], 2**64-1, [])
        let bob: [u8; 32] = hex::decode("8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48")
            .unwrap()
            .try_into()
            .unwrap();
        let h = commit_hash(&bob, 0, &[], &[], &[], u64::MAX);
        assert_eq!(hex::encode(h), "c1640de0659bdac78ec52b8e23477cf5552fe0f09d9cc7b07f7eced3afb54296");
    }
}
