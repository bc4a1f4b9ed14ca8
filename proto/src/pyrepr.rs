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
    PyFloat::new(f).as_str().to_owned()
}

/// [`py_float_repr`] on the stack: the axon prints process times and timeouts into headers on
/// every response, so the digits are laid out in a fixed buffer with no allocation.
#[derive(Clone, Copy)]
pub struct PyFloat {
    buf: [u8; PyFloat::CAP],
    len: usize,
}

impl PyFloat {
    /// The longest repr: sign, 17 digits, point, up to 4 leading zeros or a 5-character
    /// exponent, with room to spare.
    const CAP: usize = 32;

    pub fn new(f: f64) -> PyFloat {
        let mut out = PyFloat { buf: [0; PyFloat::CAP], len: 0 };
        if f.is_nan() {
            out.push(b"nan");
            return out;
        }
        if f.is_infinite() {
            out.push(if f > 0.0 { b"inf" } else { b"-inf" });
            return out;
        }
        if f == 0.0 {
            out.push(if f.is_sign_negative() { b"-0.0" } else { b"0.0" });
            return out;
        }
        // Rust's `{:e}` prints the shortest round-trip digits, e.g. "1.2345e-5".
        let mut sci = PyFloat { buf: [0; PyFloat::CAP], len: 0 };
        // A finite f64 in `{:e}` is at most 24 bytes, so this cannot fail.
        let _ = std::fmt::Write::write_fmt(&mut sci, format_args!("{f:e}"));
        let sci = sci.as_bytes();
        let (mantissa, exp) = match sci.iter().position(|&b| b == b'e') {
            Some(i) => {
                (&sci[..i], std::str::from_utf8(&sci[i + 1..]).ok().and_then(|e| e.parse::<i32>().ok()).unwrap_or(0))
            }
            None => (sci, 0),
        };
        let mut digits = [0u8; PyFloat::CAP];
        let mut n = 0;
        for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
            digits[n] = b;
            n += 1;
        }
        let digits = &digits[..n];
        if mantissa.first() == Some(&b'-') {
            out.push(b"-");
        }
        if (-4..16).contains(&exp) {
            // Fixed notation; `point` is the position of the decimal point within `digits`.
            let point = exp + 1;
            if point <= 0 {
                out.push(b"0.");
                for _ in 0..-point {
                    out.push(b"0");
                }
                out.push(digits);
            } else if point as usize >= digits.len() {
                out.push(digits);
                for _ in 0..point as usize - digits.len() {
                    out.push(b"0");
                }
                out.push(b".0");
            } else {
                out.push(&digits[..point as usize]);
                out.push(b".");
                out.push(&digits[point as usize..]);
            }
        } else {
            out.push(&digits[..1]);
            if digits.len() > 1 {
                out.push(b".");
                out.push(&digits[1..]);
            }
            out.push(if exp < 0 { b"e-" } else { b"e+" });
            let e = exp.unsigned_abs();
            if e < 10 {
                out.push(b"0");
            }
            let _ = std::fmt::Write::write_fmt(&mut out, format_args!("{e}"));
        }
        out
    }

    fn push(&mut self, bytes: &[u8]) {
        // Bounded by the layouts above (at most 24 bytes); a longer write is cut, never a panic.
        let n = bytes.len().min(PyFloat::CAP - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(self.as_bytes()).unwrap_or("nan")
    }
}

impl std::fmt::Write for PyFloat {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if s.len() > PyFloat::CAP - self.len {
            return Err(std::fmt::Error);
        }
        self.push(s.as_bytes());
        Ok(())
    }
}

impl std::fmt::Debug for PyFloat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
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

    /// The first implementation (string formatting all the way), kept as the oracle.
    fn old_float_repr(f: f64) -> String {
        if f.is_nan() {
            return "nan".into();
        }
        if f.is_infinite() {
            return if f > 0.0 { "inf".into() } else { "-inf".into() };
        }
        if f == 0.0 {
            return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
        }
        let sci = format!("{f:e}");
        let (mantissa, exp) = match sci.split_once('e') {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (sci.as_str(), 0),
        };
        let negative = mantissa.starts_with('-');
        let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
        let sign = if negative { "-" } else { "" };
        if (-4..16).contains(&exp) {
            let point = exp + 1;
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

    proptest::proptest! {
        #[test]
        fn stack_repr_is_the_old_repr(bits in proptest::prelude::any::<u64>()) {
            let f = f64::from_bits(bits);
            proptest::prop_assert_eq!(py_float_repr(f), old_float_repr(f));
        }

        #[test]
        fn stack_repr_is_the_old_repr_for_everyday_values(f in -1e20f64..1e20, scale in -30i32..30) {
            let f = f * 10f64.powi(scale);
            proptest::prop_assert_eq!(py_float_repr(f), old_float_repr(f));
        }
    }

    #[test]
    fn extremes_fit_the_buffer() {
        for f in [f64::MIN, f64::MAX, f64::MIN_POSITIVE, -f64::MIN_POSITIVE, 5e-324, -5e-324, 1.2345678901234567e-300] {
            assert_eq!(py_float_repr(f), old_float_repr(f), "repr({f:e})");
        }
        assert_eq!(py_float_repr(-1.7976931348623157e308), "-1.7976931348623157e+308");
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
