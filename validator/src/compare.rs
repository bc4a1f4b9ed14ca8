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

fn strings_agree(a: &str, b: &str) -> bool {
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

/// Compare one value. Returns (score in [0,1], leaves compared); pushes mismatching pointers.
fn cmp(reference: &Value, answer: Option<&Value>, path: &str, bad: &mut Vec<String>) -> (f64, usize) {
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
                let (s, l) = cmp(rv, av, &child, bad);
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
                    let (s, _) = cmp(rv, Some(av), &format!("{path}/{j}"), &mut b);
                    if best.as_ref().is_none_or(|x| s > x.1) {
                        best = Some((j, s, b));
                    }
                }
                let (_, l) = cmp(rv, None, path, &mut Vec::new());
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
                Some(Value::String(a)) => strings_agree(rs, a),
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
pub fn compare(reference: &Value, answer: &Value) -> Comparison {
    let mut mismatched = Vec::new();
    let (score, compared) = cmp(reference, Some(answer), "", &mut mismatched);
    mismatched.sort();
    mismatched.dedup();
    Comparison { score: if score.is_finite() { score.clamp(0.0, 1.0) } else { 0.0 }, mismatched, compared }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
