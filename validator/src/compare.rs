//! Field-by-field comparison of a miner's answer with the validator's reference answer.
//!
//! The reference holds only values the validator itself read, with a citation that checks, from
//! its own subnet calls, so every field it has is one the miner should have too. Numbers agree
//! within a tolerance (units are the schema's, so the same field means the same unit), strings
//! after normalization (case, punctuation, "(simulated)"-style suffixes), lists of objects are
//! matched item to item and scored like an F1 (extra items cost as much as missing ones: a
//! report or a social account listed as a provider is wrong), lists of scalars by set overlap.
//! Fields the miner adds that the reference lacks are not judged here (citations and re-probes
//! judge them).

use orchestra_proto::extract::{normalize, same_number};
use serde_json::Value;

/// The agreement and the answer's leaves that disagree (JSON pointers into the answer), which
/// the validator re-probes first.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// In `[0, 1]`.
    pub score: f64,
    pub mismatched: Vec<String>,
    /// Leaves compared (0: nothing to compare, the score means nothing).
    pub compared: usize,
}

/// Relative tolerance for numbers: prices quoted as $2.49 vs 2.5 agree, 2.49 vs 2.79 do not.
const NUMBER_TOLERANCE: f64 = 0.01;

fn numbers_agree(a: f64, b: f64) -> bool {
    same_number(a, b) || (a - b).abs() <= a.abs().max(b.abs()) * NUMBER_TOLERANCE
}

/// Strip what does not change meaning: case, punctuation, a trailing "(simulated)", and
/// corporate suffixes.
fn canon(s: &str) -> String {
    let n = normalize(&s.replace("(simulated)", "").replace("(SIMULATED)", ""));
    let words: Vec<&str> =
        n.split(' ').filter(|w| !matches!(*w, "inc" | "inc." | "ltd" | "llc" | "the" | "corp" | "co")).collect();
    words.join(" ")
}

#[cfg(test)]
fn strings_agree(a: &str, b: &str) -> bool {
    canons_agree(&canon(a), &canon(b))
}

/// [`strings_agree`] on two strings already through [`canon`].
fn canons_agree(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        return a == b;
    }
    if a == b {
        return true;
    }
    // "Lambda" vs "Lambda Cloud": containment of a whole-word prefix counts; a short token
    // inside a long sentence does not (a sentence is not a name).
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let long_words = long.split(' ').count();
    // `long` starts with "{short} " or ends with " {short}".
    let (s, l) = (short.as_bytes(), long.as_bytes());
    let n = s.len();
    short.len() >= 3
        && long_words <= short.split(' ').count() + 2
        && l.len() > n
        && ((l.starts_with(s) && l[n] == b' ') || (l.ends_with(s) && l[l.len() - n - 1] == b' '))
}

/// One comparison: each string's [`canon`] computed once, however many answer items it is tried
/// against (the greedy item matching is pairwise).
struct Comparer<'a> {
    /// By the string's address and length (the same bytes of the same tree).
    canons: std::collections::HashMap<(usize, usize), usize>,
    texts: Vec<String>,
    _tree: std::marker::PhantomData<&'a Value>,
}

impl<'a> Comparer<'a> {
    fn canon(&mut self, s: &'a str) -> usize {
        let texts = &mut self.texts;
        *self.canons.entry((s.as_ptr() as usize, s.len())).or_insert_with(|| {
            texts.push(canon(s));
            texts.len() - 1
        })
    }

    fn strings_agree(&mut self, a: &'a str, b: &'a str) -> bool {
        let (a, b) = (self.canon(a), self.canon(b));
        canons_agree(&self.texts[a], &self.texts[b])
    }

    /// Compare one value. Returns (score in [0,1], leaves compared). With `bad`, pushes the
    /// mismatching pointers (`path` is the value's, a buffer children push to and pop); without,
    /// only scores (the score never depends on the pointers).
    fn cmp(
        &mut self,
        reference: &'a Value,
        answer: Option<&'a Value>,
        path: &mut String,
        mut bad: Option<&mut Vec<String>>,
    ) -> (f64, usize) {
        let mut mismatch = |path: &String| {
            if let Some(b) = bad.as_deref_mut() {
                b.push(path.clone());
            }
        };
        match reference {
            Value::Object(rm) => {
                let mut total = 0.0;
                let mut n = 0usize;
                let mut leaves = 0usize;
                for (k, rv) in rm {
                    if rv.is_null() {
                        continue;
                    }
                    let len = path.len();
                    if bad.is_some() {
                        path.push('/');
                        push_escaped(path, k);
                    }
                    let av = answer.and_then(|a| a.get(k));
                    let (s, l) = self.cmp(rv, av, path, bad.as_deref_mut());
                    path.truncate(len);
                    total += s;
                    n += 1;
                    leaves += l;
                }
                if n == 0 { (1.0, 0) } else { (total / n as f64, leaves) }
            }
            Value::Array(ra) => {
                let aa: &[Value] = answer.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
                if ra.is_empty() {
                    // The validator found nothing; an answer listing things it cannot support is
                    // judged by citations, not here.
                    return (1.0, 0);
                }
                if answer.is_none() {
                    mismatch(path);
                }
                // Greedy best match, each answer item used once: every pair scored (no pointers),
                // then the chosen pair compared again for its mismatching pointers.
                let mut used = vec![false; aa.len()];
                let mut matched = 0.0;
                let mut leaves = 0usize;
                for rv in ra {
                    let mut best: Option<(usize, f64)> = None;
                    for (j, av) in aa.iter().enumerate() {
                        if used[j] {
                            continue;
                        }
                        let (s, _) = self.cmp(rv, Some(av), path, None);
                        if best.is_none_or(|x| s > x.1) {
                            best = Some((j, s));
                        }
                    }
                    let (_, l) = self.cmp(rv, None, path, None);
                    leaves += l.max(1);
                    // An item that agrees on less than half its fields is a different item.
                    match best {
                        Some((j, s)) if s >= 0.5 => {
                            used[j] = true;
                            matched += s;
                            if let Some(b) = bad.as_deref_mut() {
                                let len = path.len();
                                push_index(path, j);
                                self.cmp(rv, Some(&aa[j]), path, Some(b));
                                path.truncate(len);
                            }
                        }
                        _ => {}
                    }
                }
                if let Some(b) = bad {
                    for (j, u) in used.iter().enumerate() {
                        if !u {
                            let len = path.len();
                            push_index(path, j);
                            b.push(path.clone());
                            path.truncate(len);
                        }
                    }
                }
                let denom = ra.len().max(aa.len()) as f64;
                (matched / denom, leaves)
            }
            Value::Number(rn) => {
                let ok = answer.and_then(Value::as_f64).zip(rn.as_f64()).is_some_and(|(a, r)| numbers_agree(a, r));
                if !ok {
                    mismatch(path);
                }
                (f64::from(u8::from(ok)), 1)
            }
            Value::String(rs) => {
                let ok = match answer {
                    Some(Value::String(a)) => self.strings_agree(rs, a),
                    Some(Value::Number(n)) => n
                        .as_f64()
                        .is_some_and(|x| orchestra_proto::extract::numbers_in(rs).iter().any(|r| numbers_agree(*r, x))),
                    _ => false,
                };
                if !ok {
                    mismatch(path);
                }
                (f64::from(u8::from(ok)), 1)
            }
            Value::Bool(rb) => {
                let ok = answer.and_then(Value::as_bool) == Some(*rb);
                if !ok {
                    mismatch(path);
                }
                (f64::from(u8::from(ok)), 1)
            }
            Value::Null => (1.0, 0),
        }
    }
}

/// A JSON pointer segment: `~` and `/` escaped.
fn push_escaped(path: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

fn push_index(path: &mut String, j: usize) {
    use std::fmt::Write;
    path.push('/');
    let _ = write!(path, "{j}");
}

/// Compare `answer` with `reference`.
pub fn compare(reference: &Value, answer: &Value) -> Comparison {
    let mut mismatched = Vec::new();
    let mut c = Comparer { canons: Default::default(), texts: Vec::new(), _tree: std::marker::PhantomData };
    let (score, compared) = c.cmp(reference, Some(answer), &mut String::new(), Some(&mut mismatched));
    mismatched.sort();
    mismatched.dedup();
    Comparison { score: if score.is_finite() { score.clamp(0.0, 1.0) } else { 0.0 }, mismatched, compared }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn old_strings_agree(a: &str, b: &str) -> bool {
        let (a, b) = (canon(a), canon(b));
        if a.is_empty() || b.is_empty() {
            return a == b;
        }
        if a == b {
            return true;
        }
        // "Lambda" vs "Lambda Cloud": containment of a whole-word prefix counts; a short token
        // inside a long sentence does not (a sentence is not a name).
        let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
        let long_words = long.split(' ').count();
        short.len() >= 3
            && long_words <= short.split(' ').count() + 2
            && (long.starts_with(&format!("{short} ")) || long.ends_with(&format!(" {short}")))
    }

    /// The comparison before each string's canon was kept and trial pairs stopped building
    /// pointers (the oracle of `same_as_the_pairwise_comparison`). Returns (score in [0,1],
    /// leaves compared); pushes mismatching pointers.
    fn old_cmp(reference: &Value, answer: Option<&Value>, path: &str, bad: &mut Vec<String>) -> (f64, usize) {
        match reference {
            Value::Object(rm) => {
                let mut total = 0.0;
                let mut n = 0usize;
                let mut leaves = 0usize;
                for (k, rv) in rm {
                    if rv.is_null() {
                        continue;
                    }
                    let child = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                    let av = answer.and_then(|a| a.get(k));
                    let (s, l) = old_cmp(rv, av, &child, bad);
                    total += s;
                    n += 1;
                    leaves += l;
                }
                if n == 0 { (1.0, 0) } else { (total / n as f64, leaves) }
            }
            Value::Array(ra) => {
                let aa: &[Value] = answer.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
                if ra.is_empty() {
                    // The validator found nothing; an answer listing things it cannot support is
                    // judged by citations, not here.
                    return (1.0, 0);
                }
                if answer.is_none() {
                    bad.push(path.to_string());
                }
                // Greedy best match, each answer item used once.
                let mut used = vec![false; aa.len()];
                let mut matched = 0.0;
                let mut leaves = 0usize;
                for rv in ra {
                    let mut best: Option<(usize, f64, Vec<String>)> = None;
                    for (j, av) in aa.iter().enumerate() {
                        if used[j] {
                            continue;
                        }
                        let mut b = Vec::new();
                        let (s, _) = old_cmp(rv, Some(av), &format!("{path}/{j}"), &mut b);
                        if best.as_ref().is_none_or(|x| s > x.1) {
                            best = Some((j, s, b));
                        }
                    }
                    let (_, l) = old_cmp(rv, None, path, &mut Vec::new());
                    leaves += l.max(1);
                    // An item that agrees on less than half its fields is a different item.
                    match best {
                        Some((j, s, b)) if s >= 0.5 => {
                            used[j] = true;
                            matched += s;
                            bad.extend(b);
                        }
                        _ => {}
                    }
                }
                for (j, u) in used.iter().enumerate() {
                    if !u {
                        bad.push(format!("{path}/{j}"));
                    }
                }
                let denom = ra.len().max(aa.len()) as f64;
                (matched / denom, leaves)
            }
            Value::Number(rn) => {
                let ok = answer.and_then(Value::as_f64).zip(rn.as_f64()).is_some_and(|(a, r)| numbers_agree(a, r));
                if !ok {
                    bad.push(path.to_string());
                }
                (f64::from(u8::from(ok)), 1)
            }
            Value::String(rs) => {
                let ok = match answer {
                    Some(Value::String(a)) => old_strings_agree(rs, a),
                    Some(Value::Number(n)) => n
                        .as_f64()
                        .is_some_and(|x| orchestra_proto::extract::numbers_in(rs).iter().any(|r| numbers_agree(*r, x))),
                    _ => false,
                };
                if !ok {
                    bad.push(path.to_string());
                }
                (f64::from(u8::from(ok)), 1)
            }
            Value::Bool(rb) => {
                let ok = answer.and_then(Value::as_bool) == Some(*rb);
                if !ok {
                    bad.push(path.to_string());
                }
                (f64::from(u8::from(ok)), 1)
            }
            Value::Null => (1.0, 0),
        }
    }

    /// Compare `answer` with `reference`.
    fn old_compare(reference: &Value, answer: &Value) -> Comparison {
        let mut mismatched = Vec::new();
        let (score, compared) = old_cmp(reference, Some(answer), "", &mut mismatched);
        mismatched.sort();
        mismatched.dedup();
        Comparison { score: if score.is_finite() { score.clamp(0.0, 1.0) } else { 0.0 }, mismatched, compared }
    }

    /// JSON values shaped like answers: lists of records with names and prices, a few shared
    /// and near-miss names (prefixes, suffixes, "(simulated)"), numbers within and past the
    /// tolerance, nulls, bools, keys with `~` and `/`.
    fn any_answer() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let name = prop_oneof![
            Just("Lambda"),
            Just("Lambda Cloud"),
            Just("lambda cloud (simulated)"),
            Just("CoreWeave, Inc."),
            Just("coreweave"),
            Just("The RunPod Co"),
            Just("RunPod"),
            Just("Sources: Lambda Cloud, CoreWeave"),
            Just("2.49"),
            Just("$2.50 per hour"),
            Just(""),
            Just("ab"),
            Just("ab cd"),
        ]
        .prop_map(|s| Value::String(s.to_string()));
        let number = prop_oneof![Just(2.49), Just(2.5), Just(2.79), Just(0.0), Just(-1.0), Just(100.0), Just(100.9)]
            .prop_map(Value::from);
        let key = prop_oneof![Just("provider"), Just("price"), Just("name"), Just("a/b"), Just("t~x"), Just("ok")];
        let leaf = prop_oneof![name, number, Just(Value::Null), any::<bool>().prop_map(Value::Bool)];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The comparison gives exactly what the pairwise comparison it replaced gave: score,
        /// mismatching pointers and leaves compared.
        #[test]
        fn same_as_the_pairwise_comparison(r in any_answer(), a in any_answer()) {
            let (new, old) = (compare(&r, &a), old_compare(&r, &a));
            proptest::prop_assert_eq!(new.score.to_bits(), old.score.to_bits());
            proptest::prop_assert_eq!(new, old);
            proptest::prop_assert_eq!(compare(&r, &r), old_compare(&r, &r));
        }
    }

    #[test]
    fn same_as_the_pairwise_comparison_on_the_examples() {
        let r = reference();
        for a in [r.clone(), json!({"providers": [{"provider": "Lambda", "h100_usd_per_hour": 2.5}]}), json!(null)] {
            assert_eq!(compare(&r, &a), old_compare(&r, &a));
        }
    }

    fn reference() -> Value {
        json!({"providers": [
            {"provider": "Lambda Cloud", "h100_usd_per_hour": 2.49},
            {"provider": "CoreWeave", "h100_usd_per_hour": 4.25},
            {"provider": "RunPod", "h100_usd_per_hour": 2.79},
            {"provider": "Amazon EC2", "h100_usd_per_hour": 6.88}],
            "cheapest": "Lambda Cloud"})
    }

    #[test]
    fn the_right_answer_agrees_in_any_order() {
        let a = json!({"cheapest": "Lambda Cloud", "providers": [
            {"provider": "RunPod", "h100_usd_per_hour": 2.79},
            {"provider": "Amazon EC2", "h100_usd_per_hour": 6.88},
            {"provider": "Lambda Cloud", "h100_usd_per_hour": 2.49},
            {"provider": "CoreWeave", "h100_usd_per_hour": 4.25}]});
        let c = compare(&reference(), &a);
        assert!((c.score - 1.0).abs() < 1e-9, "{c:?}");
        assert!(c.mismatched.is_empty());
        assert_eq!(c.compared, 9);
    }

    #[test]
    fn the_measured_wrong_answer_scores_low() {
        // The answer main delivered: a report and a social account as providers, the 8-GPU
        // instance price, a token price, and a sentence as `cheapest`.
        let a = json!({"providers": [
            {"provider": "GPU cloud market report 2026", "h100_usd_per_hour": 2.8},
            {"provider": "gpu_watcher", "h100_usd_per_hour": 1.99},
            {"provider": "Amazon EC2", "h100_usd_per_hour": 55.04},
            {"provider": "Together AI", "h100_usd_per_hour": 0.88},
            {"provider": "Lambda Cloud", "h100_usd_per_hour": 2.49}],
            "cheapest": "Sources: Lambda Cloud, CoreWeave, RunPod, Amazon EC2, Together AI"});
        let c = compare(&reference(), &a);
        assert!(c.score < 0.3, "{c:?}");
        assert!(c.mismatched.contains(&"/cheapest".to_string()));
        assert!(c.mismatched.contains(&"/providers/2/h100_usd_per_hour".to_string()), "{c:?}");
    }

    #[test]
    fn swapped_numbers_and_names_are_caught() {
        let a = json!({"providers": [
            {"provider": "Imaginary", "h100_usd_per_hour": 0.42},
            {"provider": "CoreWeave", "h100_usd_per_hour": 4.25},
            {"provider": "RunPod", "h100_usd_per_hour": 2.79},
            {"provider": "Amazon EC2", "h100_usd_per_hour": 6.88}],
            "cheapest": "Imaginary"});
        let c = compare(&reference(), &a);
        assert!(c.score < 0.5, "{c:?}");
        assert!(c.mismatched.contains(&"/providers/0".to_string()), "{c:?}");
    }

    #[test]
    fn names_numbers_enums_and_sets() {
        assert!(strings_agree("Lambda", "Lambda Cloud"));
        assert!(strings_agree("CoreWeave, Inc.", "coreweave"));
        assert!(!strings_agree("Lambda", "Sources: Lambda Cloud, CoreWeave, RunPod, Amazon EC2"));
        assert!(numbers_agree(2.49, 2.5) && !numbers_agree(2.49, 2.79));
        let r = json!({"overall_sentiment": "positive", "tags": ["a", "b", "c"]});
        assert_eq!(compare(&r, &json!({"overall_sentiment": "positive", "tags": ["c", "a", "b"]})).score, 1.0);
        let c = compare(&r, &json!({"overall_sentiment": "negative", "tags": ["a"]}));
        assert!(c.score < 0.3, "{c:?}");
        assert_eq!(compare(&json!({}), &json!({"x": 1})).compared, 0);
    }
}
