//! Verification of one Orchestrate response. Each check is a named sub-score stored with the
//! task, so a miner can see exactly why it scored what it did.
//!
//! - **signature**: the miner's hotkey signed `commitment(task_id, result_digest, root)`;
//! - **receipt_root**: the root recomputes from the receipts, and every evidence body hashes to
//!   its receipt's digests (the bodies are locked with the receipts);
//! - **schema**: the result validates against the target schema;
//! - **grounding**: the share of the result's values (numbers, names, text) that can be found in
//!   the receipted responses;
//! - **citations**: the share of the result's leaves whose citation checks: the quote states the
//!   value and sits at the cited place of a hash-locked body ([`orchestra_proto::extract`]);
//! - **accuracy**: field-by-field agreement with the validator's own reference answer
//!   ([`crate::reference`], [`crate::compare`]) when it has one;
//! - **reprobe**: the validator re-issues receipted requests itself — first those cited by
//!   leaves that disagree with its reference, then a random sample — and compares: the same
//!   digest, or (where answers legitimately vary) every cited quote still there and the text and
//!   numbers close. A call that fails or disagrees counts 0; a cited quote the subnet no longer
//!   says is fabricated evidence (`contradicted`), which zeroes the task;
//! - **deadline** and **cost**: response time over the deadline, receipted cost over the budget.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use orchestra_incentive::score::SubScores;
use orchestra_keys::{PublicKey, VerifyingKey, parse_signature_hex};
use orchestra_net::KeyCache;
use orchestra_proto::canonical::{request_digest, response_digest};
use orchestra_proto::extract;
use orchestra_proto::ledger::LedgerEntry;
use orchestra_proto::receipt::{CallStatus, commitment, receipt_root, result_digest};
use orchestra_proto::shorthand;
use orchestra_proto::synapses::{Orchestrate, OrchestrateRequest};
use orchestra_subnets::Adapters;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compare::compare;
use crate::reference::usable_for_verification;

/// Most receipts re-probed because a leaf citing them disagrees with the reference.
const MAX_TARGETED_REPROBES: usize = 4;
/// Cited receipts re-probed on every response (when re-probing is on).
const MIN_CITED_REPROBES: usize = 2;
/// Below this text-and-number similarity a re-probe disagrees (scores 0).
const REPROBE_AGREE: f64 = 0.6;
/// Grounding reads at most this much text of the evidence (the first bytes of each body in
/// receipt order): a miner that hides its evidence past it only grounds less.
const MAX_GROUNDING_TEXT: usize = 1 << 20;
/// Grounding checks at most this many of the result's leaves (an even sample of the rest).
const MAX_GROUNDING_LEAVES: usize = 256;
/// Compiled target schemas kept (one per task shape; a round uses a few dozen).
const SCHEMA_CACHE: usize = 512;

/// A target schema as JSON Schema, compiled once per task shape.
struct Compiled {
    json: Value,
    validator: jsonschema::Validator,
}

/// Compiled target schemas by their shorthand text: every round sends the same few dozen task
/// shapes to hundreds of miners, and compiling one costs more than all the other checks.
static SCHEMAS: LazyLock<Mutex<HashMap<String, CompiledEntry>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// A cached compilation: the schema, or why the target is not one.
type CompiledEntry = Arc<Result<Compiled, String>>;

fn compiled_schema(target: &Value) -> CompiledEntry {
    let key = target.to_string();
    if let Some(c) = SCHEMAS.lock().get(&key) {
        return Arc::clone(c);
    }
    // Compiled outside the lock; two tasks racing on a new shape both compile it once.
    let c = Arc::new(shorthand::to_json_schema(target).map_err(|e| e.to_string()).and_then(|json| {
        let validator = jsonschema::validator_for(&json).map_err(|e| e.to_string())?;
        Ok(Compiled { json, validator })
    }));
    let mut cache = SCHEMAS.lock();
    if cache.len() >= SCHEMA_CACHE {
        cache.clear();
    }
    cache.insert(key, Arc::clone(&c));
    c
}

/// Decompressed miner keys by SS58 address (a validator verifies the same few hundred
/// hotkeys every round; decoding and decompressing one costs more than a receipt's digests).
const KEY_CACHE: usize = 4096;

static KEYS: LazyLock<KeyCache> = LazyLock::new(|| KeyCache::new(KEY_CACHE));

/// The verifying key of an SS58 hotkey, decoded and decompressed once (the axon's key cache:
/// a key is kept only once a signature verified under it): `Err` where `PublicKey::from_ss58`
/// fails, `None` where the key is no valid point (so no signature verifies under it, as
/// `PublicKey::verify` decides per call).
fn verifying_key(ss58: &str) -> Result<Option<Arc<VerifyingKey>>, String> {
    match KEYS.get(ss58) {
        Ok((k, _)) => Ok(Some(k)),
        // Which of the two failed decides the note: an address that does not decode, or a key
        // under which nothing verifies.
        Err(_) => PublicKey::from_ss58(ss58).map(|_| None).map_err(|e| e.to_string()),
    }
}

/// Everything measured about one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub sub: SubScores,
    /// Why each failed check failed (empty when all passed).
    pub notes: Vec<String>,
    /// Receipts re-probed (indexes) and their agreement.
    pub reprobed: Vec<(usize, f64)>,
}

/// Knobs of verification.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// Share of successful receipts to re-probe (at least one when any exist and rate > 0).
    pub reprobe_rate: f64,
    /// Seed of the re-probe sample (per task), so a miner cannot predict which receipts are
    /// re-probed but a validator can reproduce its own choice.
    pub seed: u64,
    pub reprobe_timeout: Duration,
}

/// Words of all strings in a JSON value, lowercased.
fn words(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            for w in s.split(|c: char| !c.is_alphanumeric() && c != '.' && c != '$').filter(|w| !w.is_empty()) {
                out.insert(w.trim_end_matches('.').to_lowercase());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| words(x, out)),
        Value::Object(m) => m.values().for_each(|x| words(x, out)),
        Value::Number(n) => {
            out.insert(n.to_string());
        }
        _ => {}
    }
}

/// Marks in `found` the words of `wanted` that occur among the words of `v` (the same words
/// [`words`] yields), lowercasing into one reused buffer: the evidence is only scanned, nothing
/// of it is stored, and its vocabulary is never built. Returns false once every wanted word is
/// found (the rest need not be read).
fn mark_words(v: &Value, wanted: &Wanted, found: &mut HashSet<String>, buf: &mut String) -> bool {
    match v {
        Value::String(s) => mark_text(s, wanted, found, buf),
        Value::Array(a) => a.iter().all(|x| mark_words(x, wanted, found, buf)),
        Value::Object(m) => m.values().all(|x| mark_words(x, wanted, found, buf)),
        Value::Number(n) => {
            let t = n.to_string();
            if wanted.words.contains(&t) {
                found.insert(t);
            }
            found.len() < wanted.words.len()
        }
        _ => true,
    }
}

/// The words grounding looks for, with their byte lengths (most of the evidence's words are
/// ruled out by length before they are lowercased and hashed).
struct Wanted {
    words: HashSet<String>,
    /// Bit `n` set: a wanted word is `n` bytes long (bit 63: 63 bytes or more).
    lengths: u64,
}

impl Wanted {
    fn new(words: HashSet<String>) -> Wanted {
        let lengths = words.iter().fold(0u64, |m, w| m | 1 << w.len().min(63));
        Wanted { words, lengths }
    }
}

/// [`mark_words`] for one string: the words of [`words`] (runs of alphanumerics, `.` and `$`,
/// trailing dots trimmed, lowercased), split bytewise where the text is ASCII.
fn mark_text(s: &str, wanted: &Wanted, found: &mut HashSet<String>, buf: &mut String) -> bool {
    let b = s.as_bytes();
    let word_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'$';
    let mut i = 0;
    while i < b.len() {
        // Skip separators.
        while i < b.len() {
            if b[i].is_ascii() {
                if word_byte(b[i]) {
                    break;
                }
                i += 1;
            } else {
                let c = s[i..].chars().next().unwrap_or(' ');
                if c.is_alphanumeric() {
                    break;
                }
                i += c.len_utf8();
            }
        }
        let start = i;
        let mut ascii = true;
        while i < b.len() {
            if b[i].is_ascii() {
                if !word_byte(b[i]) {
                    break;
                }
                i += 1;
            } else {
                let c = s[i..].chars().next().unwrap_or(' ');
                if !c.is_alphanumeric() {
                    break;
                }
                ascii = false;
                i += c.len_utf8();
            }
        }
        if start == i {
            break;
        }
        // A run of dots trims to "", which is a word too (as in `words`).
        let w = s[start..i].trim_end_matches('.');
        if ascii {
            // Lowercasing ASCII keeps the length: rule the word out before copying it.
            if wanted.lengths & (1 << w.len().min(63)) == 0 {
                continue;
            }
            buf.clear();
            buf.extend(w.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            buf.clear();
            buf.push_str(&w.to_lowercase());
        }
        if wanted.words.contains(buf.as_str()) && !found.contains(buf.as_str()) {
            found.insert(buf.clone());
            if found.len() == wanted.words.len() {
                return false;
            }
        }
    }
    true
}

fn all_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| all_text(x, out)),
        Value::Object(m) => m.values().for_each(|x| all_text(x, out)),
        _ => {}
    }
}

/// Leaf values of the result worth grounding: numbers and non-trivial strings.
fn leaves<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Number(_) => out.push(v),
        Value::String(s) if s.trim().len() >= 3 => out.push(v),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

/// Share of the result's leaf values traceable to the evidence: a number whose decimal text
/// appears in a response, a short string found verbatim, or prose whose words (≥ 80%) appear.
///
/// Bounded: at most [`MAX_GROUNDING_TEXT`] bytes of evidence text and
/// [`MAX_GROUNDING_LEAVES`] leaves (an even sample) are read, and the evidence is scanned for
/// the prose leaves' words only when a leaf is prose.
pub fn grounding(result: &Value, responses: &[&Value]) -> f64 {
    let mut corpus = String::new();
    let mut read = 0;
    for r in responses {
        if corpus.len() >= MAX_GROUNDING_TEXT {
            break;
        }
        all_text(r, &mut corpus);
        read += 1;
    }
    if corpus.len() > MAX_GROUNDING_TEXT {
        let mut cut = MAX_GROUNDING_TEXT;
        while !corpus.is_char_boundary(cut) {
            cut -= 1;
        }
        corpus.truncate(cut);
    }
    let corpus_lc = corpus.to_lowercase();
    let mut ls = Vec::new();
    leaves(result, &mut ls);
    if ls.is_empty() {
        return 0.0;
    }
    let total = ls.len();
    if total > MAX_GROUNDING_LEAVES {
        let step = total as f64 / MAX_GROUNDING_LEAVES as f64;
        ls = (0..MAX_GROUNDING_LEAVES).map(|i| ls[(i as f64 * step) as usize]).collect();
    }
    // Prose leaves are grounded by their words: gather every prose leaf's words first, then
    // scan the evidence once for those words only.
    let prose: Vec<BTreeSet<String>> = ls
        .iter()
        .map(|v| {
            let mut w = BTreeSet::new();
            if matches!(v, Value::String(s) if s.len() > 80) {
                words(v, &mut w);
            }
            w
        })
        .collect();
    let wanted = Wanted::new(prose.iter().flatten().cloned().collect());
    let mut found = HashSet::new();
    if !wanted.words.is_empty() {
        let mut buf = String::new();
        for r in &responses[..read] {
            if !mark_words(r, &wanted, &mut found, &mut buf) {
                break;
            }
        }
    }
    let grounded = ls
        .iter()
        .zip(&prose)
        .filter(|(v, w)| match v {
            Value::Number(n) => {
                let t = n.to_string();
                // 2.5 may be written $2.50 in a page.
                corpus.contains(&t) || n.as_f64().is_some_and(|f| corpus.contains(&format!("{f:.2}")))
            }
            Value::String(s) => {
                if s.len() <= 80 {
                    return corpus_lc.contains(&s.to_lowercase());
                }
                let hit = w.iter().filter(|x| found.contains(*x)).count();
                !w.is_empty() && hit as f64 / w.len() as f64 >= 0.8
            }
            _ => false,
        })
        .count();
    grounded as f64 / ls.len() as f64
}

/// Word-set (Jaccard) similarity of two JSON values' text, in `[0, 1]`.
pub fn similarity(a: &Value, b: &Value) -> f64 {
    let (mut wa, mut wb) = (BTreeSet::new(), BTreeSet::new());
    words(a, &mut wa);
    words(b, &mut wb);
    let union = wa.union(&wb).count();
    if union == 0 {
        return 1.0;
    }
    wa.intersection(&wb).count() as f64 / union as f64
}

fn pick(seed: u64, i: usize) -> f64 {
    let h = blake3::hash(format!("{seed}/{i}").as_bytes());
    h.as_bytes()[0] as f64 / 256.0
}

/// Numbers written in a JSON value's strings and numbers, as canonical text.
fn number_set(v: &Value) -> BTreeSet<String> {
    let mut text = String::new();
    all_text(v, &mut text);
    extract::numbers_in(&text).into_iter().map(|x| format!("{x:.4}")).collect()
}

/// Agreement of a re-probed body with the miner's evidence body when the digests differ:
/// word-set and number-set similarity, the smaller of the two (changed figures matter even
/// when the prose is the same).
pub fn reprobe_similarity(now: &Value, claimed: &Value) -> f64 {
    let (na, nb) = (number_set(now), number_set(claimed));
    let nums = if na.is_empty() && nb.is_empty() {
        1.0
    } else {
        na.intersection(&nb).count() as f64 / na.union(&nb).count().max(1) as f64
    };
    similarity(now, claimed).min(nums)
}

/// The share of the result's leaves with a citation that checks against the evidence.
/// Judgment leaves (enum, boolean) need a citation whose quote is in the cited body, since the
/// value is a reading of the evidence rather than a quotation.
fn citation_share(result: &Value, resp: &Orchestrate, schema: Option<&Value>) -> (f64, Vec<String>) {
    let leaves = extract::leaves(result);
    if leaves.is_empty() {
        return (0.0, Vec::new());
    }
    let mut notes = Vec::new();
    let mut ok = 0usize;
    // Leaves citing the same text (a page's content) normalize it once.
    let mut texts = extract::CitedTexts::new();
    // Each leaf's citations, in the response's order.
    let mut by_path: HashMap<&str, Vec<&extract::Citation>> = HashMap::with_capacity(resp.citations.len());
    for c in &resp.citations {
        by_path.entry(c.path.as_str()).or_default().push(c);
    }
    for (path, _) in &leaves {
        let mut good = false;
        let mut why = None;
        for &c in by_path.get(path.as_str()).map(Vec::as_slice).unwrap_or_default() {
            let Some((r, e)) = resp.receipts.get(c.receipt).zip(resp.evidence.get(c.receipt)) else {
                why = Some(format!("citation for {path} names receipt {} which does not exist", c.receipt));
                continue;
            };
            if r.status != CallStatus::Ok {
                why = Some(format!("citation for {path} names failed call {}", c.receipt));
                continue;
            }
            let res = extract::check_citation_cached(schema, result, c, &e.response, &mut texts);
            match res {
                Ok(()) => {
                    good = true;
                    break;
                }
                Err(e) => why = Some(e),
            }
        }
        if good {
            ok += 1;
        } else if notes.len() < 5 {
            notes.push(why.unwrap_or_else(|| format!("no citation for {path}")));
        }
    }
    (ok as f64 / leaves.len() as f64, notes)
}

/// Verify `resp` against the request that was sent. `elapsed` is the round trip the validator
/// measured; `ledger` is the validator's own Ledger (re-probes go through it, never through
/// endpoints the miner names); `reference` is the validator's own answer, when it has one.
/// [`check`], then the re-probes it chose.
#[allow(clippy::too_many_arguments)]
pub async fn verify(
    sent: &OrchestrateRequest,
    resp: &Orchestrate,
    expected_hotkey: &str,
    elapsed: Duration,
    ledger: &[LedgerEntry],
    adapters: &Adapters,
    cfg: &VerifyConfig,
    reference: Option<&Value>,
) -> Verification {
    let checked = check(sent, resp, expected_hotkey, elapsed, cfg, reference);
    reprobe(checked, resp, ledger, adapters, cfg).await
}

/// The checks of one response that need no network (every check but the re-probes), and the
/// receipts to re-probe.
#[derive(Debug, Clone)]
pub struct Checked {
    pub verification: Verification,
    /// Receipt indexes to re-probe, in order: behind disagreeing leaves first, then cited, then
    /// a seeded sample. Empty when a gating check failed.
    pub reprobe: Vec<usize>,
}

/// Everything of [`verify`] but the re-probes: signature, receipt root and evidence digests,
/// schema, grounding, citations, accuracy, cost and the choice of receipts to re-probe. CPU
/// only (a validator's bench of verification measures this; the re-probes are network calls).
pub fn check(
    sent: &OrchestrateRequest,
    resp: &Orchestrate,
    expected_hotkey: &str,
    elapsed: Duration,
    cfg: &VerifyConfig,
    reference: Option<&Value>,
) -> Checked {
    let mut notes = Vec::new();
    let mut sub = SubScores {
        signature: false,
        receipt_root: false,
        schema: false,
        grounding: 0.0,
        reprobe: None,
        latency_ratio: elapsed.as_secs_f64() * 1000.0 / sent.contract.deadline_ms.max(1) as f64,
        cost_ratio: 0.0,
        quality_floor: true,
        citations: None,
        accuracy: None,
        contradicted: false,
    };
    let Some(result) = resp.result.as_ref() else {
        notes.push(format!("no result: {}", resp.error.as_deref().unwrap_or("the miner returned nothing")));
        return Checked { verification: Verification { sub, notes, reprobed: Vec::new() }, reprobe: Vec::new() };
    };
    let echoes = resp.task_id == sent.task_id
        && resp.objective == sent.objective
        && resp.target_schema == sent.target_schema
        && resp.contract == sent.contract
        && resp.inputs == sent.inputs;
    if !echoes {
        notes.push("the response does not echo the request that was sent".into());
        return Checked { verification: Verification { sub, notes, reprobed: Vec::new() }, reprobe: Vec::new() };
    }

    // Signature over the commitment.
    let root = receipt_root(&resp.receipts).ok();
    let sig_ok = (|| {
        if resp.miner_hotkey.as_deref() != Some(expected_hotkey) {
            return Err(format!("signed by {:?}, expected {expected_hotkey}", resp.miner_hotkey));
        }
        let vk = verifying_key(expected_hotkey)?;
        let sig =
            parse_signature_hex(resp.miner_signature.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
        let claimed = resp.receipt_root.ok_or("no receipt root")?;
        let rd = result_digest(result).map_err(|e| e.to_string())?;
        let c = commitment(&resp.task_id, &rd, &claimed);
        if let Some(k) = vk.filter(|k| k.verify(&c.0, &sig)) {
            KEYS.remember(expected_hotkey, k);
            Ok(())
        } else {
            Err("signature does not verify over the commitment".to_string())
        }
    })();
    match sig_ok {
        Ok(()) => sub.signature = true,
        Err(e) => notes.push(format!("signature: {e}")),
    }

    // Root and evidence.
    let mut root_ok = root.is_some() && root == resp.receipt_root;
    if !root_ok {
        notes.push("receipt_root does not match the receipts".into());
    }
    if resp.evidence.len() != resp.receipts.len() {
        root_ok = false;
        notes.push(format!("{} evidence bodies for {} receipts", resp.evidence.len(), resp.receipts.len()));
    } else {
        for (i, (r, e)) in resp.receipts.iter().zip(&resp.evidence).enumerate() {
            let rq = request_digest(&e.request).ok();
            let rs = response_digest(&e.response).ok();
            if rq != Some(r.request_digest) || rs != Some(r.response_digest) {
                root_ok = false;
                notes.push(format!("evidence {i} does not hash to receipt {i}"));
                break;
            }
        }
    }
    sub.receipt_root = root_ok;

    // Schema (compiled once per task shape).
    let schema = compiled_schema(&sent.target_schema);
    match schema.as_ref() {
        Ok(c) if c.validator.is_valid(result) => sub.schema = true,
        Ok(_) => notes.push("result does not validate against the target schema".into()),
        Err(e) => notes.push(format!("target schema: {e}")),
    }
    if !(sub.signature && root_ok && sub.schema) {
        // Nothing else the response claims can be trusted; the score is zero anyway.
        return Checked { verification: Verification { sub, notes, reprobed: Vec::new() }, reprobe: Vec::new() };
    }

    // Grounding against the bodies of successful calls only.
    let ok_bodies: Vec<&Value> = resp
        .receipts
        .iter()
        .zip(&resp.evidence)
        .filter(|(r, _)| r.status == CallStatus::Ok)
        .map(|(_, e)| &e.response)
        .collect();
    sub.grounding = grounding(result, &ok_bodies);

    // Citations.
    let (share, cnotes) = citation_share(result, resp, schema.as_ref().as_ref().ok().map(|c| &c.json));
    sub.citations = Some(share);
    notes.extend(cnotes);

    // Accuracy against the reference; the leaves that disagree point at receipts to re-probe.
    let mut suspect: BTreeSet<usize> = BTreeSet::new();
    if let Some(reference) = reference {
        let c = compare(reference, result);
        if c.compared > 0 {
            sub.accuracy = Some(c.score);
            if !c.mismatched.is_empty() {
                notes.push(format!(
                    "{} of the answer's fields disagree with the validator's own answer (e.g. {})",
                    c.mismatched.len(),
                    c.mismatched[0]
                ));
            }
            for m in &c.mismatched {
                // The leaf itself or anything under it (`{m}/...`).
                let under = |p: &str| p.strip_prefix(m.as_str()).is_some_and(|r| r.is_empty() || r.starts_with('/'));
                for cit in resp.citations.iter().filter(|x| under(&x.path)) {
                    suspect.insert(cit.receipt);
                }
            }
        }
    }

    // Cost: what the receipts say was spent.
    let cost: u64 = resp.receipts.iter().map(|r| r.cost_micros).sum();
    sub.cost_ratio = cost as f64 / sent.contract.budget_micros.max(1) as f64;

    // Re-probes through our own Ledger entries: receipts behind disagreeing leaves first, then
    // a seeded random sample.
    let candidates: Vec<usize> =
        resp.receipts.iter().enumerate().filter(|(_, r)| r.status == CallStatus::Ok).map(|(i, _)| i).collect();
    let mut sample: Vec<usize> =
        suspect.iter().copied().filter(|i| candidates.contains(i)).take(MAX_TARGETED_REPROBES).collect();
    if cfg.reprobe_rate > 0.0 {
        // The receipts the answer cites carry its claims: always re-probe a few of them (a
        // seeded choice the miner cannot predict), then a random share of the rest.
        let mut cited: Vec<usize> =
            resp.citations.iter().map(|c| c.receipt).filter(|i| candidates.contains(i)).collect();
        cited.sort_unstable();
        cited.dedup();
        cited.sort_by(|a, b| pick(cfg.seed, *a).total_cmp(&pick(cfg.seed, *b)));
        for i in cited.into_iter().take(MIN_CITED_REPROBES) {
            if !sample.contains(&i) {
                sample.push(i);
            }
        }
        for i in candidates.iter().copied().filter(|i| pick(cfg.seed, *i) < cfg.reprobe_rate) {
            if !sample.contains(&i) {
                sample.push(i);
            }
        }
        if sample.is_empty()
            && let Some(first) =
                candidates.iter().copied().min_by(|a, b| pick(cfg.seed, *a).total_cmp(&pick(cfg.seed, *b)))
        {
            sample.push(first);
        }
    }
    Checked { verification: Verification { sub, notes, reprobed: Vec::new() }, reprobe: sample }
}

/// The re-probes [`check`] chose, through the validator's own Ledger entries, scored into its
/// verification.
pub async fn reprobe(
    checked: Checked,
    resp: &Orchestrate,
    ledger: &[LedgerEntry],
    adapters: &Adapters,
    cfg: &VerifyConfig,
) -> Verification {
    let Checked { verification: Verification { mut sub, mut notes, .. }, reprobe: sample } = checked;
    let mut reprobed = Vec::new();
    let probes = sample.iter().map(|&i| async move {
        let r = &resp.receipts[i];
        let Some(entry) = ledger.iter().find(|e| e.netuid == r.netuid && usable_for_verification(e)) else {
            return (i, None);
        };
        // A metagraph-routed axon transport re-calls the axon the receipt names when the
        // metagraph shows it serving on that subnet, and any other serving axon otherwise.
        (i, Some(adapters.reprobe(entry, &resp.evidence[i].request, "reprobe", cfg.reprobe_timeout, r).await.output))
    });
    for (i, out) in futures::future::join_all(probes).await {
        let r = &resp.receipts[i];
        let agreement = match out {
            None => {
                notes.push(format!("receipt {i}: netuid {} has no entry this validator verifies with", r.netuid));
                0.0
            }
            Some(Err(e)) => {
                notes.push(format!(
                    "receipt {i}: re-probe failed ({})",
                    e.to_string().chars().take(80).collect::<String>()
                ));
                0.0
            }
            Some(Ok(v)) => {
                if response_digest(&v).ok() == Some(r.response_digest) {
                    1.0
                } else {
                    let claimed = &resp.evidence[i].response;
                    let lost: Vec<&str> = resp
                        .citations
                        .iter()
                        .filter(|c| c.receipt == i)
                        .filter(|c| !extract::quote_at(&v, &c.pointer, &c.quote))
                        .map(|c| c.path.as_str())
                        .collect();
                    if !lost.is_empty() {
                        sub.contradicted = true;
                        notes.push(format!(
                            "receipt {i}: the subnet no longer says what {} cite(s) (fabricated evidence)",
                            lost.join(", ")
                        ));
                        0.0
                    } else {
                        let s = reprobe_similarity(&v, claimed);
                        if s < REPROBE_AGREE {
                            notes.push(format!("receipt {i}: re-probe disagrees (similarity {s:.2})"));
                            0.0
                        } else {
                            s
                        }
                    }
                }
            }
        };
        reprobed.push((i, agreement));
    }
    if !reprobed.is_empty() {
        sub.reprobe = Some(reprobed.iter().map(|x| x.1).sum::<f64>() / reprobed.len() as f64);
    }
    Verification { sub, notes, reprobed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marked_words_are_the_words_in_both() {
        let v = json!({"a": "Hello, World. ÉCOLE Straße ΣΟΦΟΣ $2.49 end.", "b": [1, -2.5, "x.y.", "MiXeD"], "c": null});
        let mut all = BTreeSet::new();
        words(&v, &mut all);
        let words: HashSet<String> = [
            "hello",
            "world",
            "école",
            "straße",
            "σοφος",
            "σοφοσ",
            "$2.49",
            "-2.5",
            "x.y",
            "mixed",
            "absent",
            "1",
            "end",
            "2.5",
        ]
        .map(String::from)
        .into();
        let wanted = Wanted::new(words.clone());
        let (mut found, mut buf) = (HashSet::new(), String::new());
        assert!(mark_words(&v, &wanted, &mut found, &mut buf), "not every wanted word is there");
        let expect: BTreeSet<String> = all.into_iter().filter(|w| words.contains(w)).collect();
        assert!(expect.contains("hello") && expect.contains("1") && !expect.contains("absent"), "{expect:?}");
        assert_eq!(expect, found.into_iter().collect::<BTreeSet<_>>());
        // Every wanted word found: the scan stops.
        let all_there = Wanted::new(["hello", "world"].map(String::from).into());
        let mut found = HashSet::new();
        assert!(!mark_words(&v, &all_there, &mut found, &mut buf));
        assert_eq!(found.len(), 2);
    }

    /// The bytewise splitter yields exactly the words of [`words`] on mixed text.
    #[test]
    fn bytewise_words_are_the_words() {
        let texts = [
            "Hello, World. ÉCOLE Straße ΣΟΦΟΣ $2.49 end.",
            "a..b. .c $$ x1.y2... İstanbul ǅemal ＡＢＣ 123,456 tab\tsep—dash «quote» ...",
            "",
            "....",
            "mixed日本語text and 中文 words ß.",
        ];
        for t in texts {
            let v = Value::String(t.to_string());
            let mut all = BTreeSet::new();
            words(&v, &mut all);
            let wanted = Wanted::new(all.iter().cloned().chain(["absent".to_string()]).collect());
            let (mut found, mut buf) = (HashSet::new(), String::new());
            mark_words(&v, &wanted, &mut found, &mut buf);
            assert_eq!(all, found.into_iter().collect::<BTreeSet<_>>(), "{t}");
        }
    }

    #[test]
    fn grounding_counts_traceable_values() {
        let bodies = [
            json!({"content": "NVIDIA H100 SXM: $2.49 per GPU-hour. Lambda Cloud."}),
            json!({"x": "[simulated LLM] Key figures: $2.49"}),
        ];
        let refs: Vec<&Value> = bodies.iter().collect();
        let good = json!({"name": "Lambda Cloud", "price": 2.49, "why": "[simulated LLM] Key figures: $2.49"});
        assert!((grounding(&good, &refs) - 1.0).abs() < 1e-9);
        let bad = json!({"name": "Acme GPU", "price": 1.11, "why": "trust me, this is the best price on the market today for sure"});
        assert_eq!(grounding(&bad, &refs), 0.0);
        assert!((similarity(&bodies[0], &bodies[0]) - 1.0).abs() < 1e-9);
        assert!(similarity(&bodies[0], &json!({"a": "totally different words"})) < 0.2);
    }
}
