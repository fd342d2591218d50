//! Calendar dates (`YYYY-MM-DD`, UTC) ⇄ Unix seconds, for product files and label text — the
//! one place the workspace turns a claim's whole days into the words people read (page, CLI,
//! API and artwork all show the same day, whatever the viewer's time zone).
//!
//! Claims carry whole days (docs/FORMATS.md §1; the Rust API keeps Unix seconds). Only the
//! proleptic Gregorian calendar at day granularity is needed, so this is the days-from-civil
//! arithmetic (H. Hinnant's algorithm) rather than a date-time dependency.

/// Seconds per day.
pub const DAY: u64 = 86_400;

/// Why a date string was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not `YYYY-MM-DD` with a real month/day, or before 1970.
    #[error("`{0}` is not a date in YYYY-MM-DD form (1970 or later)")]
    Invalid(String),
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses `YYYY-MM-DD` to the Unix time of 00:00:00 UTC that day.
///
/// # Errors
/// [`DateError::Invalid`] for anything else, impossible dates (2025-02-30) and years < 1970.
pub fn parse_date(s: &str) -> Result<u64, DateError> {
    let bad = || DateError::Invalid(s.chars().take(40).collect());
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let num = |r: core::ops::Range<usize>| -> Result<i64, DateError> {
        let part = &s[r];
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return Err(bad());
    }
    u64::try_from(days * 86_400).map_err(|_| bad())
}

/// Formats Unix seconds as the UTC date `YYYY-MM-DD`.
#[must_use]
pub fn format_date(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("2000-03-01"), Ok(951_868_800));
        assert_eq!(parse_date("2024-02-29"), Ok(1_709_164_800));
        assert_eq!(format_date(1_709_164_800 + 86_399), "2024-02-29");
        assert_eq!(format_date(0), "1970-01-01");
    }

    #[test]
    fn round_trip_every_day_for_a_century() {
        for day in 0..36_600u64 {
            let s = format_date(day * 86_400);
            assert_eq!(parse_date(&s), Ok(day * 86_400), "{s}");
        }
    }

    #[test]
    fn rejects_bad_dates() {
        for s in [
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "25-01-01",
            "2025/01/01",
            "1969-12-31",
            "2025-1-011",
            "+025-01-01",
        ] {
            assert!(parse_date(s).is_err(), "{s}");
        }
    }
}
