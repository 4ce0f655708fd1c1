//! FILE_CHECK: a number read from a file, as keepalived's `track_file` gives it to a real
//! server. The file is read at every probe (keepalived watches it with inotify; here the
//! period is `delay_loop`).

use super::{Failure, FileCheck, Weight};

/// The number at the start of `text` as C's `strtoll(text, NULL, 0)` reads it: leading blanks,
/// a sign, `0x` hex, a leading `0` octal, else decimal; no digits give 0. Saturates.
pub(crate) fn parse_value(text: &str) -> i64 {
    let t = text.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
        if h.starts_with(|c: char| c.is_ascii_hexdigit()) {
            (16, h)
        } else {
            (8, t)
        }
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let mut v: i64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        v = v
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// The verdict for a value: with weight 0, non-zero (zero with `reverse`) is down; otherwise
/// `value × weight` (negated with `reverse`), clamped to 32 bits, is added to the real
/// server's weight, and the lowest 32-bit value means down.
pub(crate) fn verdict(file: &FileCheck, value: i64) -> Result<Option<Weight>, Failure> {
    if file.weight == 0 {
        let down = (value != 0) != file.reverse;
        return if down {
            Err(Failure::FileFault(value))
        } else {
            Ok(Some(Weight::Add(0)))
        };
    }
    let sign = if file.reverse { -1 } else { 1 };
    let product = value
        .saturating_mul(i64::from(file.weight))
        .saturating_mul(sign)
        .clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    if product <= i64::from(i32::MIN) {
        return Err(Failure::FileFault(value));
    }
    Ok(Some(Weight::Add(product)))
}

/// FILE_CHECK.
pub(crate) fn check(file: &FileCheck) -> Result<Option<Weight>, Failure> {
    let text = std::fs::read_to_string(&file.path)
        .map_err(|e| Failure::File(format!("{}: {e}", file.path.display())))?;
    verdict(file, parse_value(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_strtoll() {
        for (text, v) in [
            ("42\n", 42),
            ("  -7", -7),
            ("0x1f", 31),
            ("010", 8),
            ("12abc", 12),
            ("abc", 0),
            ("", 0),
            ("+3", 3),
            ("0x", 0),
        ] {
            assert_eq!(parse_value(text), v, "{text:?}");
        }
    }

    #[test]
    fn verdicts() {
        let f = |weight, reverse| FileCheck {
            path: "/x".into(),
            weight,
            reverse,
        };
        assert_eq!(verdict(&f(0, false), 0), Ok(Some(Weight::Add(0))));
        assert_eq!(verdict(&f(0, false), 5), Err(Failure::FileFault(5)));
        assert_eq!(verdict(&f(0, true), 0), Err(Failure::FileFault(0)));
        assert_eq!(verdict(&f(0, true), 1), Ok(Some(Weight::Add(0))));
        assert_eq!(verdict(&f(3, false), 4), Ok(Some(Weight::Add(12))));
        assert_eq!(verdict(&f(3, true), 4), Ok(Some(Weight::Add(-12))));
        assert_eq!(
            verdict(&f(1, false), i64::from(i32::MIN)),
            Err(Failure::FileFault(i64::from(i32::MIN)))
        );
    }
}
