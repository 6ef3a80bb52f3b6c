//! Duration and size strings used in job files (`"1.5s"`, `"256MiB"`).

use std::time::Duration;

/// Duration units: suffix and length in nanoseconds.
const DURATION_UNITS: &[(&str, u128)] = &[
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Size units: suffix and multiplier in bytes (case-sensitive).
const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("KiB", 1 << 10),
    ("MB", 1_000_000),
    ("MiB", 1 << 20),
    ("GB", 1_000_000_000),
    ("GiB", 1 << 30),
];

/// Parses a duration such as `"250ms"`, `"1.5s"`, `"2m"` or `"1h"`.
///
/// The number is an integer or a decimal; the unit is one of `ms`, `s`, `m`,
/// `h` and may be separated from the number by spaces. The result must be
/// greater than zero. The error is a complete, lowercase message.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration `{s}`: {why}");
    let (number, unit) = split_number(s.trim(), true).map_err(|why| bad(&why))?;
    let Some(&(_, unit_nanos)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(bad(&unit_error(unit, DURATION_UNITS.iter().map(|u| u.0))));
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let too_large = || bad("too large");
    let int: u128 = int.parse().map_err(|_| too_large())?;
    // 15 fractional digits are far below one nanosecond even for hours.
    let frac = &frac[..frac.len().min(15)];
    let frac_nanos = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>().map_err(|_| too_large())? * unit_nanos / 10u128.pow(frac.len() as u32)
    };
    let nanos = int
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(too_large)?;
    let nanos = u64::try_from(nanos).map_err(|_| too_large())?;
    if nanos == 0 {
        return Err(bad("must be greater than zero"));
    }
    Ok(Duration::from_nanos(nanos))
}

/// Parses a size such as `"256MiB"`, `"16 KB"` or `"1024"` (plain bytes).
///
/// The number is a non-negative integer; the optional unit is one of `B`,
/// `KB`, `KiB`, `MB`, `MiB`, `GB`, `GiB` (case-sensitive, decimal `KB`/`MB`/
/// `GB`, binary `KiB`/`MiB`/`GiB`). The error is a complete, lowercase message.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("invalid size `{s}`: {why}");
    let (number, unit) = split_number(s.trim(), false).map_err(|why| bad(&why))?;
    let multiplier = if unit.is_empty() {
        1
    } else {
        match SIZE_UNITS.iter().find(|(u, _)| *u == unit) {
            Some(&(_, m)) => m,
            None => return Err(bad(&unit_error(unit, SIZE_UNITS.iter().map(|u| u.0)))),
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| bad("too large"))
}

/// Splits `"1.5 s"` into `("1.5", "s")`, checking the number's shape.
fn split_number(s: &str, allow_decimal: bool) -> Result<(&str, &str), String> {
    if s.starts_with('-') {
        return Err("must not be negative".into());
    }
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || (allow_decimal && c == '.')))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..end], s[end..].trim_start());
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let shape_ok = match number.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(number),
    };
    if !shape_ok {
        return Err(if allow_decimal {
            "expected a number followed by a unit, e.g. `10s` or `1.5s`".into()
        } else {
            "expected a whole number with an optional unit, e.g. `256MiB`".into()
        });
    }
    if !allow_decimal && unit.starts_with('.') {
        return Err("expected a whole number, e.g. `1536MiB` instead of `1.5GiB`".into());
    }
    if allow_decimal && unit.is_empty() {
        let units = backticked(DURATION_UNITS.iter().map(|u| u.0));
        return Err(format!("missing unit; expected one of {units}"));
    }
    Ok((number, unit))
}

fn unit_error<'a>(unit: &str, units: impl Iterator<Item = &'a str> + Clone) -> String {
    let hint = if units.clone().any(|u| u.eq_ignore_ascii_case(unit)) {
        " (units are case-sensitive)"
    } else {
        ""
    };
    format!(
        "unknown unit `{unit}`; expected one of {}{hint}",
        backticked(units)
    )
}

/// Formats names as a comma-separated list of backticked names.
pub(in crate::job) fn backticked<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("250ms", Duration::from_millis(250)),
            ("1.5s", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("0.5h", Duration::from_secs(1800)),
            ("10 s", Duration::from_secs(10)),
            (" 3s ", Duration::from_secs(3)),
            ("0.001ms", Duration::from_nanos(1000)),
            ("1.000000001s", Duration::from_nanos(1_000_000_001)),
            ("007s", Duration::from_secs(7)),
        ];
        for (s, want) in ok {
            assert_eq!(parse_duration(s), Ok(want), "{s}");
        }
        let bad = [
            (
                "10 parsecs",
                "unknown unit `parsecs`; expected one of `ms`, `s`, `m`, `h`",
            ),
            ("-1s", "must not be negative"),
            ("0s", "must be greater than zero"),
            ("0.0000000001s", "must be greater than zero"),
            ("10", "missing unit"),
            ("", "expected a number"),
            ("s", "expected a number"),
            (".5s", "expected a number"),
            ("5.s", "expected a number"),
            ("1.2.3s", "expected a number"),
            ("10S", "(units are case-sensitive)"),
            ("1e3s", "unknown unit `e3s`"),
            ("99999999999999999999999999999999999999999h", "too large"),
            ("6000000h", "too large"),
        ];
        for (s, want) in bad {
            let err = parse_duration(s).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid duration `{s}`: ")),
                "{err}"
            );
            assert!(err.contains(want), "{s}: {err}");
        }
    }

    #[test]
    fn sizes() {
        let ok = [
            ("0", 0),
            ("1024", 1024),
            ("12B", 12),
            ("1KB", 1000),
            ("1KiB", 1024),
            ("3MB", 3_000_000),
            ("256MiB", 256 << 20),
            ("2GB", 2_000_000_000),
            ("4 GiB", 4 << 30),
            (" 7 ", 7),
        ];
        for (s, want) in ok {
            assert_eq!(parse_size(s), Ok(want), "{s}");
        }
        let bad = [
            (
                "12 zettabytes",
                "unknown unit `zettabytes`; expected one of `B`, `KB`",
            ),
            ("1kib", "(units are case-sensitive)"),
            ("1TiB", "unknown unit `TiB`"),
            ("-5MiB", "must not be negative"),
            ("1.5GiB", "expected a whole number, e.g."),
            ("MiB", "expected a whole number"),
            ("", "expected a whole number"),
            ("18446744073709551616", "too large"),
            ("17179869184GiB", "too large"),
        ];
        for (s, want) in bad {
            let err = parse_size(s).unwrap_err();
            assert!(err.starts_with(&format!("invalid size `{s}`: ")), "{err}");
            assert!(err.contains(want), "{s}: {err}");
        }
    }
}
