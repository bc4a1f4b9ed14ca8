//! Civil (proleptic Gregorian, UTC) dates as day counts since the Unix epoch: the one copy of
//! Howard Hinnant's algorithms the workspace uses (usage months, date windows of objectives,
//! post and fact dates, scrape timestamps). Pure: callers read the clock.

/// Days since 1970-01-01 of the civil date `y-m-d`.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(y, m, d)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` of a day count.
pub fn format_day(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day count of a `YYYY-MM-DD` prefix (`2026-11-27`, `2026-11-27T10:00:00Z`), `None` when
/// it is not a valid date.
pub fn parse_day(s: &str) -> Option<i64> {
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    if s.get(4..5) != Some("-") || s.get(7..8) != Some("-") || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The last day of month `m` of year `y`.
pub fn month_end(y: i64, m: u32) -> i64 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(ny, nm, 1) - 1
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub fn format_timestamp(unix_secs: u64) -> String {
    let rem = unix_secs % 86_400;
    format!("{}T{:02}:{:02}:{:02}Z", format_day((unix_secs / 86_400) as i64), rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(20_419), (2025, 11, 27));
        for z in [-800_000, -1, 0, 59, 60, 11_016, 20_784, 2_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(parse_day("2026-11-27T10:00:00Z").map(format_day).as_deref(), Some("2026-11-27"));
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("20261127"), None);
        assert_eq!(format_day(month_end(2028, 2)), "2028-02-29");
        assert_eq!(format_day(month_end(2026, 12)), "2026-12-31");
        assert_eq!(format_timestamp(86_399), "1970-01-01T23:59:59Z");
    }
}
