//! The Bittensor transports: axons (a fixed one, or the serving axons of the target subnet's
//! metagraph) called through the dendrite in the v10 or btauth/1 dialect with a synapse
//! described by the Ledger entry, and the `btauth/1` headers of signed HTTP calls.

use std::time::{Duration, Instant};

use orchestra_keys::Keypair;
use orchestra_net::{AxonTarget, DynSynapse};
use orchestra_proto::btauth::{self, AuthHeaders};
use orchestra_proto::canonical::{Digest, request_digest, response_digest};
use orchestra_proto::ledger::{AxonDialect, LedgerEntry};
use orchestra_proto::receipt::{CallStatus, Receipt, Transport};
use orchestra_proto::synapses::CallEvidence;
use orchestra_proto::wire::PyType;
use serde_json::{Map, Value, json};

use crate::{Adapters, CallOutcome, SubnetError, now_ms, schema};

/// The fields every v10 envelope carries besides the synapse's own. `required_hash_fields` is
/// not in our envelope but older Python SDKs dump it with the model, so it is dropped too.
const BASE_FIELDS: &[&str] =
    &["name", "timeout", "total_size", "header_size", "dendrite", "axon", "computed_body_hash", "required_hash_fields"];

/// The `AxonV10` transport of an entry, borrowed.
pub(crate) struct AxonSpec<'a> {
    pub synapse: &'a str,
    pub required_fields: &'a [String],
    pub hash_fields: &'a [String],
    pub endpoint: Option<&'a str>,
    pub hotkey: Option<&'a str>,
    pub dialect: AxonDialect,
}

/// The axon one call goes to.
struct Target<'a> {
    endpoint: &'a str,
    hotkey: &'a str,
    /// Its uid, when it was picked from the metagraph.
    uid: Option<u16>,
}

/// `ip:port` or `[ipv6]:port`.
fn parse_endpoint(endpoint: &str) -> Result<(String, u16), SubnetError> {
    let bad = || SubnetError::Other(format!("axon endpoint `{endpoint}` is not ip:port"));
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// The Python type of a required field, from the input schema's property type: the axon
/// checks the `bt_header_input_obj_*` header of each, and its value is an empty value of the
/// field's type.
fn py_type(input_schema: &Value, field: &str) -> PyType {
    let ty = &input_schema["properties"][field]["type"];
    // A union such as ["string", "null"] is its first non-null member.
    let name = match ty {
        Value::String(s) => Some(s.as_str()),
        Value::Array(a) => a.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    match name {
        Some("integer") => PyType::Int,
        Some("number") => PyType::Float,
        Some("boolean") => PyType::Bool,
        Some("array") => PyType::List,
        Some("object") => PyType::Dict,
        _ => PyType::Str,
    }
}

/// The synapse's own fields of a response envelope.
fn strip_envelope(mut body: Map<String, Value>) -> Map<String, Value> {
    for f in BASE_FIELDS {
        body.remove(*f);
    }
    body
}

/// The `btauth/1` header pairs for a request of `method` to `url` with exactly `body`.
/// The receiver is "-": a Ledger entry does not name the service's hotkey.
pub(crate) fn btauth_headers(
    key: &Keypair,
    method: &str,
    url: &str,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, SubnetError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| SubnetError::Other(format!("bad URL {url}: {e}")))?;
    // The verifier signs over the request target as it sees it: path plus query.
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let nonce_ns = orchestra_proto::nonce::next_nonce();
    let payload = btauth::payload(method, &target, body, nonce_ns, key.ss58(), None);
    let auth = AuthHeaders {
        hotkey: key.ss58().to_string(),
        nonce_ns,
        signature: key.sign_hex(payload.as_bytes()),
        receiver: None,
    };
    Ok(auth.to_pairs())
}

impl Adapters {
    /// The calls of one axon transport: its fixed axon, or the best serving axons of the
    /// entry's subnet in turn until one answers. `more_after`: the entry has transports after
    /// this one (so the last axon does not get all the time that is left).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn call_axons(
        &self,
        entry: &LedgerEntry,
        spec: &AxonSpec<'_>,
        input: &Value,
        step_id: &str,
        deadline: Instant,
        more_after: bool,
        prefer: Option<&str>,
    ) -> Vec<CallOutcome> {
        match (spec.endpoint, spec.hotkey) {
            (Some(endpoint), Some(hotkey)) => {
                let target = Target { endpoint, hotkey, uid: None };
                let timeout = crate::attempt_budget(deadline, more_after);
                return vec![self.call_axon(entry, spec, &target, input, step_id, timeout).await];
            }
            (None, None) => {}
            _ => {
                return vec![CallOutcome::refused(SubnetError::Unsupported(
                    "axon_v10 with only one of a fixed endpoint and hotkey",
                ))];
            }
        }
        let Some(directory) = &self.axons else {
            return vec![CallOutcome::refused(SubnetError::Unsupported(
                "axon_v10 routed through the metagraph without a metagraph view (build the adapters with with_axons)",
            ))];
        };
        if self.signer.is_none() {
            return vec![CallOutcome::refused(SubnetError::Unsupported(
                "axon_v10 without a signing hotkey (build the adapters with with_keypair)",
            ))];
        }
        let netuid = entry.netuid;
        let found = match directory.serving_axons(netuid).await {
            Ok(v) => v,
            Err(reason) => {
                let reason = orchestra_net::guard::sanitize(&reason, 160);
                return vec![CallOutcome::refused(SubnetError::NoServingAxon { netuid, reason })];
            }
        };
        // Addresses are written by whoever registered: the network policy decides which may be
        // called at all (internal addresses only with --net.allow_private).
        let allow_private = self.guard.allow_private;
        let callable: Vec<_> = found
            .into_iter()
            .filter(|a| parse_endpoint(&a.endpoint).is_ok_and(|(_, port)| port != 0))
            .filter(|a| orchestra_net::guard::check_url(&format!("http://{}/", a.endpoint), allow_private).is_ok())
            .collect();
        let mut ranked =
            crate::axons::rank(callable, &self.stats.snapshot(netuid), self.routing.cooldown, Instant::now());
        if let Some(p) = prefer
            && let Some(i) = ranked.iter().position(|a| a.hotkey == p)
        {
            let named = ranked.remove(i);
            ranked.insert(0, named);
        }
        ranked.truncate(self.routing.max_axons.max(1));
        if ranked.is_empty() {
            let reason = "the metagraph shows no callable axon".to_string();
            return vec![CallOutcome::refused(SubnetError::NoServingAxon { netuid, reason })];
        }
        let mut out = Vec::new();
        let n = ranked.len();
        for (i, a) in ranked.iter().enumerate() {
            if i > 0 && deadline <= Instant::now() {
                break;
            }
            let target = Target { endpoint: &a.endpoint, hotkey: &a.hotkey, uid: Some(a.uid) };
            let timeout = crate::attempt_budget(deadline, more_after || i + 1 < n);
            let t0 = Instant::now();
            let o = self.call_axon(entry, spec, &target, input, step_id, timeout).await;
            let ok = o.output.is_ok();
            if o.receipt.is_some() {
                self.stats.record(netuid, &a.hotkey, ok, t0.elapsed());
            }
            out.push(o);
            if ok {
                break;
            }
        }
        out
    }

    /// Call one axon. Receipts and evidence are over the fields sent and the synapse's own
    /// fields of the answer, so digests match as on the HTTP path; the receipt names the axon
    /// (`endpoint` = `ip:port/Synapse`, `target` = its hotkey, `uid` in the attestation).
    async fn call_axon(
        &self,
        entry: &LedgerEntry,
        spec: &AxonSpec<'_>,
        target: &Target<'_>,
        input: &Value,
        step_id: &str,
        timeout: Duration,
    ) -> CallOutcome {
        let (endpoint, hotkey, uid) = (target.endpoint, target.hotkey, target.uid);
        let Some(signer) = &self.signer else {
            return CallOutcome::refused(SubnetError::Unsupported(
                "axon_v10 without a signing hotkey (build the adapters with with_keypair)",
            ));
        };
        let dendrite = match spec.dialect {
            AxonDialect::V10 => &signer.dendrite,
            AxonDialect::Btauth => &signer.btauth,
        };
        let dendrite = match dendrite {
            Ok(d) => d,
            Err(e) => return CallOutcome::refused(SubnetError::Other(format!("dendrite: {e}"))),
        };
        let (ip, port) = match parse_endpoint(endpoint) {
            Ok(a) => a,
            Err(e) => return CallOutcome::refused(e),
        };
        let Some(fields) = input.as_object().cloned() else {
            return CallOutcome::refused(SubnetError::Schema("input: a synapse input must be a JSON object".into()));
        };
        let syn = DynSynapse {
            name: spec.synapse.to_string(),
            required: spec.required_fields.iter().map(|f| (f.clone(), py_type(&entry.input_schema, f))).collect(),
            hash_fields: spec.hash_fields.to_vec(),
        };
        let target = AxonTarget::new(ip, port, hotkey);
        let request = Value::Object(fields.clone());

        let started_ms = now_ms();
        let t0 = Instant::now();
        let resp = dendrite.call_dynamic(&target, &syn, fields, timeout).await;
        let latency_ms = t0.elapsed().as_millis() as u64;

        // The axon's own view of the call: its status and process time from the envelope it
        // returned when there is one, else what the dendrite recorded.
        let body_axon = resp.synapse.get("axon");
        let process_time =
            body_axon.and_then(|a| a.get("process_time")).and_then(Value::as_f64).or(resp.axon.process_time);
        let mut attestation = json!({
            "status_code": resp.status_code,
            "status_message": resp.status_message,
            "process_time": process_time,
        });
        if let Some(uid) = uid {
            attestation["uid"] = json!(uid);
        }
        let response = match resp.synapse {
            Value::Object(m) => Value::Object(strip_envelope(m)),
            other => other,
        };
        let (status, output) = match resp.status_code {
            200 if response.is_object() => (CallStatus::Ok, Ok(response.clone())),
            200 => {
                let err = SubnetError::Malformed("the axon's answer is not a JSON object".into());
                (CallStatus::Error { code: 422, message: err.to_string() }, Err(err))
            }
            408 => (CallStatus::Timeout, Err(SubnetError::Timeout(timeout))),
            code => (
                CallStatus::Error { code, message: resp.status_message.clone() },
                Err(SubnetError::Status { code, message: resp.status_message.clone() }),
            ),
        };
        let drift = match &output {
            Ok(v) => schema::detect(&entry.output_schema, v),
            Err(_) => Vec::new(),
        };
        let receipt = Receipt {
            step_id: step_id.to_string(),
            netuid: entry.netuid,
            subnet: entry.name.clone(),
            transport: match spec.dialect {
                AxonDialect::V10 => Transport::AxonV10,
                AxonDialect::Btauth => Transport::Btauth,
            },
            endpoint: format!("{endpoint}/{}", spec.synapse),
            target: hotkey.to_string(),
            request_digest: request_digest(&request).unwrap_or(Digest([0; 32])),
            response_digest: response_digest(&response).unwrap_or(Digest([0; 32])),
            started_at_ms: started_ms,
            finished_at_ms: started_ms + latency_ms,
            latency_ms,
            status,
            cost_micros: entry.metrics.cost_micros,
            attestation: Some(attestation),
        };
        CallOutcome {
            receipt: Some(receipt),
            evidence: Some(CallEvidence { request, response }),
            output,
            drift,
            attempts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_types() {
        assert_eq!(parse_endpoint("127.0.0.1:8091").ok(), Some(("127.0.0.1".into(), 8091)));
        assert_eq!(parse_endpoint("[::1]:9").ok(), Some(("::1".into(), 9)));
        assert!(parse_endpoint("127.0.0.1").is_err());
        assert!(parse_endpoint(":80").is_err());
        let s = json!({"properties": {"n": {"type": "integer"}, "o": {"type": ["null", "object"]}}});
        assert_eq!(py_type(&s, "n"), PyType::Int);
        assert_eq!(py_type(&s, "o"), PyType::Dict);
        assert_eq!(py_type(&s, "missing"), PyType::Str);
    }
}
