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
        let mut sink = crate::canonical::HashSink::new(contexts::RECEIPT_LEAF);
        self.write_canonical(&mut sink);
        Ok(sink.finish())
    }

    /// The receipt's canonical JSON (RFC 8785), written member by member: the same bytes as
    /// `canonical_bytes(self)` (tests hold them equal for every field and status) without a
    /// `serde_json::Value` per receipt. Members in RFC 8785 order (their names are ASCII, so
    /// byte order); numbers as doubles, as the canonicalizer writes every JSON number.
    fn write_canonical<S: crate::canonical::Sink>(&self, out: &mut S) {
        use crate::canonical::{write_string, write_u64, write_value};
        // Every field named: a field added to `Receipt` must be added here (or this does not
        // compile), or the leaf would not bind it.
        let Receipt {
            step_id,
            netuid,
            subnet,
            transport,
            endpoint,
            target,
            request_digest,
            response_digest,
            started_at_ms,
            finished_at_ms,
            latency_ms,
            status,
            cost_micros,
            attestation,
        } = self;
        let transport = match transport {
            Transport::AxonV10 => "axon_v10",
            Transport::Btauth => "btauth",
            Transport::HttpJson => "http_json",
            Transport::OpenaiChat => "openai_chat",
        };
        out.put(b"{");
        if let Some(a) = attestation {
            out.put(b"\"attestation\":");
            write_value(a, out);
            out.put(b",");
        }
        out.put(b"\"cost_micros\":");
        write_u64(*cost_micros, out);
        out.put(b",\"endpoint\":");
        write_string(endpoint, out);
        out.put(b",\"finished_at_ms\":");
        write_u64(*finished_at_ms, out);
        out.put(b",\"latency_ms\":");
        write_u64(*latency_ms, out);
        out.put(b",\"netuid\":");
        write_u64(u64::from(*netuid), out);
        out.put(b",\"request_digest\":\"");
        out.put(request_digest.to_hex().as_bytes());
        out.put(b"\",\"response_digest\":\"");
        out.put(response_digest.to_hex().as_bytes());
        out.put(b"\",\"started_at_ms\":");
        write_u64(*started_at_ms, out);
        out.put(b",\"status\":");
        match status {
            CallStatus::Ok => out.put(b"{\"kind\":\"ok\"}"),
            CallStatus::Error { code, message } => {
                out.put(b"{\"code\":");
                write_u64(u64::from(*code), out);
                out.put(b",\"kind\":\"error\",\"message\":");
                write_string(message, out);
                out.put(b"}");
            }
            CallStatus::Timeout => out.put(b"{\"kind\":\"timeout\"}"),
        }
        out.put(b",\"step_id\":");
        write_string(step_id, out);
        out.put(b",\"subnet\":");
        write_string(subnet, out);
        out.put(b",\"target\":");
        write_string(target, out);
        out.put(b",\"transport\":\"");
        out.put(transport.as_bytes());
        out.put(b"\"}");
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

    fn any_receipt() -> impl Strategy<Value = Receipt> {
        let text = proptest::collection::vec(
            prop_oneof![
                Just('a'),
                Just('"'),
                Just('\\'),
                Just('\n'),
                Just('\u{1}'),
                Just('é'),
                Just('\u{10000}'),
                any::<char>()
            ],
            0..12,
        )
        .prop_map(|cs| cs.into_iter().collect::<String>());
        let status = prop_oneof![
            Just(CallStatus::Ok),
            Just(CallStatus::Timeout),
            (any::<u16>(), text.clone()).prop_map(|(code, message)| CallStatus::Error { code, message }),
        ];
        let transport = prop_oneof![
            Just(Transport::AxonV10),
            Just(Transport::Btauth),
            Just(Transport::HttpJson),
            Just(Transport::OpenaiChat)
        ];
        let attestation = prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            (text.clone(), any::<f64>().prop_filter("finite", |f| f.is_finite()), any::<i64>())
                .prop_map(|(k, f, i)| Some(json!({k: [f, i, "x"], "http_status": 200}))),
        ];
        let times = (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>());
        let digests = (any::<[u8; 32]>(), any::<[u8; 32]>());
        (text.clone(), any::<u16>(), text.clone(), transport, text.clone(), text, digests, times, status, attestation)
            .prop_map(
                |(
                    step_id,
                    netuid,
                    subnet,
                    transport,
                    endpoint,
                    target,
                    (rq, rs),
                    (t0, t1, lat, cost),
                    status,
                    attestation,
                )| {
                    Receipt {
                        step_id,
                        netuid,
                        subnet,
                        transport,
                        endpoint,
                        target,
                        request_digest: Digest(rq),
                        response_digest: Digest(rs),
                        started_at_ms: t0,
                        finished_at_ms: t1,
                        latency_ms: lat,
                        status,
                        cost_micros: cost,
                        attestation,
                    }
                },
            )
    }

    /// The leaf as it was computed before it was written member by member: the receipt as a
    /// `serde_json::Value`, canonicalized.
    fn value_leaf(r: &Receipt) -> Digest {
        let v = serde_json::to_value(r).expect("value");
        crate::canonical::digest_value(contexts::RECEIPT_LEAF, &v)
    }

    proptest! {
        /// Byte-identical canonical form: the member-by-member writer gives the canonicalizer's
        /// bytes of the receipt for any fields, status, transport and attestation.
        #[test]
        fn receipt_bytes_are_the_canonicalizers_bytes(r in any_receipt()) {
            let mut mine = Vec::new();
            r.write_canonical(&mut mine);
            prop_assert_eq!(&mine, &crate::canonical::canonical_bytes(&r).expect("canonical"));
            prop_assert_eq!(r.leaf().expect("leaf"), value_leaf(&r));
        }
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
