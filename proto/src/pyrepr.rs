//! Python `str()` / `repr()` of JSON values, as pydantic's `model_dump()` would hand them to
//! `str()` in the SDK's body hash.
//!
//! The v10 body hash is `sha3(str(value))` per hashed field, so a Rust peer must print values the
//! way CPython does: single-quoted strings with CPython's escaping, `True`/`False`/`None`, shortest
//! round-trip floats with CPython's switch to exponent form, `[a, b]` lists and `{'k': v}` dicts.

use serde_json::Value;

/// `str(v)` for a value at the top level: a string prints as itself, anything else as `repr`.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// `repr(v)` for a JSON-shaped Python value (what `str()` prints inside containers).
pub fn py_repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(v, &mut out);
    out
}

fn write_repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                out.push_str(&py_float_repr(f));
            }
        }
        Value::String(s) => out.push_str(&py_str_repr(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // pydantic dumps dicts in insertion order; serde_json keeps it with `preserve_order`
            // off only sorted, so hashed dict fields must be built in sorted key order to match.
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&py_str_repr(k));
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// CPython's `repr(str)`: single quotes unless the text holds a `'` and no `"`; escapes `\\`,
/// the chosen quote, `\n`, `\r`, `\t`, other non-printable characters as `\xNN`, `\uNNNN` or
/// `\UNNNNNNNN`. Printable non-ASCII characters stay as they are.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let cp = c as u32;
                if cp < 0x100 {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp < 0x10000 {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// An approximation of CPython's `str.isprintable()` that is exact for ASCII and Latin-1 and for
/// the common non-printable classes (controls, separators other than the space, surrogates,
/// private use, unassigned BMP specials). CPython consults the full Unicode database; hashed
/// fields holding exotic code points should be avoided (see the protocol reference).
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    match cp {
        0x20..=0x7e => true,
        0..=0x1f | 0x7f..=0xa0 | 0xad => false,
        0x2028 | 0x2029 | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xfeff => false,
        0x1680 | 0x2000..=0x200a | 0x202f | 0x205f | 0x3000 => false,
        0xe000..=0xf8ff | 0xf0000..=0x10ffff => false,
        0xfff9..=0xfffb | 0xfffe | 0xffff => false,
        _ => !c.is_control(),
    }
}

/// CPython's `repr(float)`: the shortest digits that round-trip, printed in fixed notation when
/// the decimal exponent is in `-4..16` and in exponent notation (`1e-05`, `1.5e+16`) otherwise;
/// integral values keep a `.0`.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` prints the shortest round-trip digits, e.g. "1.2345e-5".
    let sci = format!("{f:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        // Fixed notation.
        let point = exp + 1; // position of the decimal point within `digits`
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{body}")
    } else {
        let mant = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits.clone() };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_match_cpython() {
        let cases = [
            (12.0, "12.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.5e16, "1.5e+16"),
            (-2.5, "-2.5"),
            (8.416175842285156e-05, "8.416175842285156e-05"),
            (1e22, "1e+22"),
            (123.456, "123.456"),
            (-0.0, "-0.0"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float_repr(f), want, "repr({f})");
        }
    }

    #[test]
    fn strings_match_cpython() {
        assert_eq!(py_str_repr("foobar"), "'foobar'");
        assert_eq!(py_str_repr("it's"), "\"it's\"");
        assert_eq!(py_str_repr("it's \"q\""), "'it\\'s \"q\"'");
        assert_eq!(py_str_repr("a\nb\t\\"), "'a\\nb\\t\\\\'");
        assert_eq!(py_str_repr("\u{7}"), "'\\x07'");
        assert_eq!(py_str_repr("héllo ☃"), "'héllo ☃'");
    }

    #[test]
    fn containers_match_cpython() {
        assert_eq!(py_str(&json!(["foobar"])), "['foobar']");
        assert_eq!(py_str(&json!([1, true, null, 2.5])), "[1, True, None, 2.5]");
        assert_eq!(py_str(&json!({"k": 1, "s": "v"})), "{'k': 1, 's': 'v'}");
        assert_eq!(py_str(&json!("plain")), "plain");
        assert_eq!(py_str(&json!(1)), "1");
    }
}
