//! Hash-locked receipts: one per subnet call a miner makes, a Merkle root over them, inclusion
//! proofs, and the commitment the miner signs.
//!
//! Leaves and inner nodes are blake3 under distinct derive-key contexts, so a leaf can never be
//! passed off as a node. An odd node at the end of a level is promoted unchanged rather than
//! duplicated, which rules out the duplicate-leaf ambiguity of Bitcoin-style trees.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ProtoError,
    canonical::{Digest, contexts},
};

/// How a subnet was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Bittensor v10 axon/dendrite.
    AxonV10,
    /// btauth/1 signed HTTP.
    Btauth,
    /// Plain HTTP JSON API.
    HttpJson,
    /// OpenAI-compatible chat completions.
    OpenaiChat,
}

/// Outcome of one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CallStatus {
    Ok,
    /// The subnet answered with an error status (HTTP or Bittensor status code).
    Error {
        code: u16,
        message: String,
    },
    Timeout,
}

/// One subnet call, as the miner saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The plan step this call served.
    pub step_id: String,
    pub netuid: u16,
    pub subnet: String,
    pub transport: Transport,
    /// URL or `ip:port/Synapse` that was called.
    pub endpoint: String,
    /// The miner hotkey, model or route targeted inside the subnet.
    pub target: String,
    pub request_digest: Digest,
    pub response_digest: Digest,
    pub started_at_ms: u64,
    pub finished_at_ms: u64,
    pub latency_ms: u64,
    pub status: CallStatus,
    /// Cost charged for the call, in micro-units.
    #[serde(default)]
    pub cost_micros: u64,
    /// Whatever the transport attests (e.g. the subnet's own signed response headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Value>,
}

impl Receipt {
    /// The receipt's leaf hash: blake3 (leaf context) over its canonical JSON.
    pub fn leaf(&self) -> Result<Digest, ProtoError> {
        // As a JSON value, written canonically straight into the hash: the same bytes as
        // `canonical_bytes(self)` (a receipt holds no float that could be non-finite).
        let v = serde_json::to_value(self).map_err(|e| ProtoError::Canonical(e.to_string()))?;
        Ok(crate::canonical::digest_value(contexts::RECEIPT_LEAF, &v))
    }
}

fn node(left: &Digest, right: &Digest) -> Digest {
    let mut h = blake3::Hasher::new_derive_key(contexts::MERKLE_NODE);
    h.update(&left.0);
    h.update(&right.0);
    Digest(*h.finalize().as_bytes())
}

/// The root of an empty tree: a fixed value, distinct from any leaf or node.
pub fn empty_root() -> Digest {
    Digest(blake3::derive_key(contexts::MERKLE_EMPTY, b""))
}

/// Merkle root over leaf hashes, in order.
pub fn merkle_root(leaves: &[Digest]) -> Digest {
    if leaves.is_empty() {
        return empty_root();
    }
    let mut level: Vec<Digest> = leaves.to_vec();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [l, r] => next.push(node(l, r)),
                [single] => next.push(*single),
                _ => {}
            }
        }
        level = next;
    }
    level[0]
}

/// Root over receipts.
pub fn receipt_root(receipts: &[Receipt]) -> Result<Digest, ProtoError> {
    let leaves = receipts.iter().map(Receipt::leaf).collect::<Result<Vec<_>, _>>()?;
    Ok(merkle_root(&leaves))
}

/// Which side a proof's sibling sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Left,
    Right,
}

/// An inclusion proof: the siblings from the leaf up to the root. Promoted levels (no sibling)
/// contribute no step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub index: usize,
    pub leaf_count: usize,
    pub siblings: Vec<(Side, Digest)>,
}

/// Build the proof for leaf `index`.
pub fn prove(leaves: &[Digest], index: usize) -> Result<InclusionProof, ProtoError> {
    if index >= leaves.len() {
        return Err(ProtoError::ProofIndex { index, len: leaves.len() });
    }
    let mut siblings = Vec::new();
    let mut level: Vec<Digest> = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sib = i ^ 1;
        if sib < level.len() {
            let side = if sib < i { Side::Left } else { Side::Right };
            siblings.push((side, level[sib]));
        }
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [l, r] => next.push(node(l, r)),
                [single] => next.push(*single),
                _ => {}
            }
        }
        level = next;
        i /= 2;
    }
    Ok(InclusionProof { index, leaf_count: leaves.len(), siblings })
}

impl InclusionProof {
    /// Whether `leaf` is included under `root` by this proof.
    pub fn verify(&self, leaf: &Digest, root: &Digest) -> bool {
        let mut acc = *leaf;
        for (side, sib) in &self.siblings {
            acc = match side {
                Side::Left => node(sib, &acc),
                Side::Right => node(&acc, sib),
            };
        }
        acc == *root
    }
}

/// The 32 bytes a miner signs to lock its response:
/// `blake3_derive_key(COMMITMENT, len(task_id) ‖ task_id ‖ result_digest ‖ receipt_root)`.
/// The length prefix keeps task ids of different lengths from colliding.
pub fn commitment(task_id: &str, result_digest: &Digest, root: &Digest) -> Digest {
    let mut h = blake3::Hasher::new_derive_key(contexts::COMMITMENT);
    h.update(&(task_id.len() as u64).to_le_bytes());
    h.update(task_id.as_bytes());
    h.update(&result_digest.0);
    h.update(&root.0);
    Digest(*h.finalize().as_bytes())
}

/// Digest of a task's result value.
pub fn result_digest(result: &Value) -> Result<Digest, ProtoError> {
    Ok(crate::canonical::digest_value(contexts::RESULT, result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn receipt(step: &str) -> Receipt {
        Receipt {
            step_id: step.into(),
            netuid: 22,
            subnet: "desearch".into(),
            transport: Transport::HttpJson,
            endpoint: "http://127.0.0.1:9000/search".into(),
            target: "-".into(),
            request_digest: crate::canonical::request_digest(&json!({"q": step})).expect("d"),
            response_digest: crate::canonical::response_digest(&json!({"r": step})).expect("d"),
            started_at_ms: 1,
            finished_at_ms: 5,
            latency_ms: 4,
            status: CallStatus::Ok,
            cost_micros: 10,
            attestation: None,
        }
    }

    fn leaf_n(n: u8) -> Digest {
        Digest(blake3::hash(&[n]).into())
    }

    #[test]
    fn root_changes_with_any_receipt_field() {
        let a = vec![receipt("s1"), receipt("s2")];
        let root = receipt_root(&a).expect("root");
        let mut b = a.clone();
        b[1].latency_ms = 5;
        assert_ne!(root, receipt_root(&b).expect("root"));
        let mut c = a.clone();
        c.swap(0, 1);
        assert_ne!(root, receipt_root(&c).expect("root"), "order is bound");
    }

    #[test]
    fn leaf_hashes_the_canonicalizers_bytes() {
        // The leaf is written canonically straight into blake3; it must hash exactly what
        // serde_json_canonicalizer writes for the receipt (receipts already signed depend on it).
        let mut r = receipt("s\u{10000}\u{e000}\n\"");
        r.status = CallStatus::Error { code: 503, message: "busy \u{1}".into() };
        r.attestation = Some(json!({"http_status": 200, "z": 1.5e-7, "\u{e000}": [true, null], "a": "€"}));
        r.started_at_ms = u64::MAX;
        let bytes = crate::canonical::canonical_bytes(&r).expect("canonical");
        let mut h = blake3::Hasher::new_derive_key(contexts::RECEIPT_LEAF);
        h.update(&bytes);
        assert_eq!(r.leaf().expect("leaf"), Digest(*h.finalize().as_bytes()));
    }

    #[test]
    fn leaf_is_not_a_node() {
        let l = vec![leaf_n(1), leaf_n(2)];
        let root = merkle_root(&l);
        // A single-leaf tree whose leaf equals the two-leaf root must not be confused.
        assert_ne!(merkle_root(&[root]), merkle_root(&[node(&l[0], &l[1]), leaf_n(3)]));
        assert_ne!(merkle_root(&[]), merkle_root(&[empty_root(), empty_root()]));
    }

    #[test]
    fn proof_out_of_range() {
        assert!(prove(&[leaf_n(1)], 1).is_err());
    }

    proptest! {
        #[test]
        fn every_leaf_proves_and_no_other(n in 1usize..40, pick in 0usize..40) {
            let leaves: Vec<Digest> = (0..n).map(|i| leaf_n(i as u8)).collect();
            let root = merkle_root(&leaves);
            let i = pick % n;
            let proof = prove(&leaves, i).expect("proof");
            prop_assert!(proof.verify(&leaves[i], &root));
            prop_assert!(!proof.verify(&leaf_n(200), &root));
            if n > 1 {
                let j = (i + 1) % n;
                prop_assert!(!proof.verify(&leaves[j], &root) || leaves[j] == leaves[i]);
            }
        }
    }

    #[test]
    fn commitment_binds_all_parts() {
        let r = result_digest(&json!({"price": 1.5})).expect("d");
        let root = merkle_root(&[leaf_n(1)]);
        let c = commitment("t1", &r, &root);
        assert_ne!(c, commitment("t2", &r, &root));
        assert_ne!(c, commitment("t1", &result_digest(&json!({"price": 1.6})).expect("d"), &root));
        assert_ne!(c, commitment("t1", &r, &merkle_root(&[leaf_n(2)])));
    }
}
