//! EventBridge Scheduler's schedule expressions: `rate(5 minutes)`,
//! `cron(0 2 * * ? *)` and `at(2026-12-24T18:00:00)`, evaluated in an IANA
//! time zone (AWS's "Schedule types in EventBridge Scheduler").
//!
//! - `rate(value unit)`: every `value` minutes, hours or days from the
//!   schedule's start; a day is 24 hours, whatever DST does to the clock.
//! - `cron(minutes hours day-of-month month day-of-week year)`: six fields,
//!   day-of-week 1-7 = SUN-SAT or names, `?` in exactly one of the day
//!   fields, `L`, `W`, `#`, `a/b` steps. DST as AWS documents it: a time the
//!   spring-forward skips is not run; a time the fall-back repeats runs once.
//! - `at(yyyy-mm-ddThh:mm:ss)`: once, at that wall-clock time.
//!
//! The cron grammar is `croner`'s (Quartz weekdays, year field, loose
//! steps); this module adds EventBridge's rules on top.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed schedule expression.
#[derive(Debug, Clone)]
pub enum Expression {
    /// Every so many seconds from the schedule's anchor.
    Rate(i64),
    Cron(Box<Cron>),
    At(NaiveDateTime),
}

/// The longest `rate` AWS allows is not documented; a bound keeps the
/// arithmetic in range: 10 years.
const MAX_RATE_SECONDS: i64 = 10 * 366 * 24 * 3600;

impl Expression {
    /// Parses `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Expression, String> {
        let text = text.trim();
        let inner = |prefix: &str| {
            text.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
                .map(str::trim)
        };
        if let Some(rate) = inner("rate(") {
            return parse_rate(rate);
        }
        if let Some(cron) = inner("cron(") {
            return parse_cron(cron);
        }
        if let Some(at) = inner("at(") {
            return NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
                .map(Expression::At)
                .map_err(|e| {
                    format!("at({at}) is not a date and time like at(2026-12-24T18:00:00): {e}")
                });
        }
        Err(format!(
            "{text:?} is not a schedule expression: write rate(5 minutes), cron(0 2 * * ? *) or at(2026-12-24T18:00:00)"
        ))
    }

    /// The first fire time strictly after `after`, with wall-clock fields
    /// read in `tz`; a `rate` counts from `anchor`. `None`: never again.
    pub fn next_after(
        &self,
        after: DateTime<Utc>,
        tz: Tz,
        anchor: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self {
            Expression::Rate(seconds) => {
                if after < anchor {
                    return Some(anchor);
                }
                let elapsed = (after - anchor).num_seconds();
                let periods = elapsed / seconds + 1;
                anchor.checked_add_signed(chrono::Duration::seconds(periods.checked_mul(*seconds)?))
            }
            Expression::At(local) => {
                // The earlier instant of a repeated time; none for a skipped one.
                let at = tz
                    .from_local_datetime(local)
                    .earliest()?
                    .with_timezone(&Utc);
                (at > after).then_some(at)
            }
            Expression::Cron(cron) => {
                let mut cursor = after.with_timezone(&tz);
                // A few rounds: each skips one DST gap.
                for _ in 0..8 {
                    let next = cron.find_next_occurrence(&cursor, false).ok()?;
                    // croner moves a time inside a spring-forward gap past
                    // it; EventBridge skips it (its wall time never occurs).
                    if cron.is_time_matching(&next).unwrap_or(false) {
                        return Some(next.with_timezone(&Utc));
                    }
                    cursor = next;
                }
                None
            }
        }
    }
}

fn parse_rate(text: &str) -> Result<Expression, String> {
    let bad = || {
        format!(
            "rate({text}) is not a rate: write rate(VALUE UNIT) with a positive whole VALUE and UNIT minute(s), hour(s) or day(s)"
        )
    };
    let (value, unit) = text.split_once(char::is_whitespace).ok_or_else(bad)?;
    let value: i64 = value.parse().map_err(|_| bad())?;
    if value <= 0 {
        return Err(bad());
    }
    // AWS: the singular unit for 1, the plural otherwise.
    let unit_seconds = match (unit.trim(), value == 1) {
        ("minute", true) | ("minutes", false) => 60,
        ("hour", true) | ("hours", false) => 3600,
        ("day", true) | ("days", false) => 86_400,
        _ => return Err(bad()),
    };
    let seconds = value.checked_mul(unit_seconds).ok_or_else(bad)?;
    if seconds > MAX_RATE_SECONDS {
        return Err(format!("rate({text}) is longer than ten years"));
    }
    Ok(Expression::Rate(seconds))
}

fn parse_cron(text: &str) -> Result<Expression, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "cron({text}) has {} fields; EventBridge's cron has six: minutes hours day-of-month month day-of-week year, e.g. cron(0 2 * * ? *)",
            fields.len()
        ));
    }
    // AWS: a value or `*` in one day field needs `?` in the other.
    if (fields[2] == "?") == (fields[4] == "?") {
        return Err(format!(
            "cron({text}): exactly one of day-of-month ({}) and day-of-week ({}) must be ?",
            fields[2], fields[4]
        ));
    }
    // croner takes a year only after a seconds field: second 0.
    let parser = CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .sloppy_ranges(true)
        .build();
    parser
        .parse(&format!("0 {}", fields.join(" ")))
        .map(|cron| Expression::Cron(Box::new(cron)))
        .map_err(|e| format!("cron({text}) is not valid: {e}"))
}

/// An IANA time zone name (`Europe/Paris`), or what is wrong with it.
pub fn time_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("{name:?} is not an IANA time zone name such as \"UTC\" or \"Europe/Paris\"")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn fires(expression: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        let expression = Expression::parse(expression).unwrap_or_else(|e| panic!("{e}"));
        let tz = time_zone(tz).unwrap_or_else(|e| panic!("{e}"));
        let mut at = utc(from);
        let anchor = at;
        let mut out = Vec::new();
        for _ in 0..n {
            let Some(next) = expression.next_after(at, tz, anchor) else {
                break;
            };
            out.push(next.to_rfc3339());
            at = next;
        }
        out
    }

    #[test]
    fn a_nightly_cron_follows_the_zone_across_both_dst_changes() {
        // Europe/Paris: CET (+1) to CEST (+2) on 2026-03-29, back on 2026-10-25.
        assert_eq!(
            fires(
                "cron(0 2 * * ? *)",
                "Europe/Paris",
                "2026-03-27T12:00:00Z",
                4
            ),
            [
                "2026-03-28T01:00:00+00:00",
                // 02:00 on the 29th does not exist in Paris: skipped, as AWS does.
                "2026-03-30T00:00:00+00:00",
                "2026-03-31T00:00:00+00:00",
                "2026-04-01T00:00:00+00:00",
            ]
        );
        assert_eq!(
            fires(
                "cron(30 2 * * ? *)",
                "Europe/Paris",
                "2026-10-24T12:00:00Z",
                2
            ),
            [
                // 02:30 happens twice on the 25th: it runs once, at the first.
                "2026-10-25T00:30:00+00:00",
                "2026-10-26T01:30:00+00:00",
            ]
        );
    }

    #[test]
    fn a_rate_counts_fixed_durations_through_dst() {
        assert_eq!(
            fires("rate(1 day)", "Europe/Paris", "2026-03-28T10:00:00Z", 2),
            ["2026-03-29T10:00:00+00:00", "2026-03-30T10:00:00+00:00"]
        );
        assert_eq!(
            fires("rate(5 minutes)", "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"]
        );
    }

    #[test]
    fn cron_weekdays_are_eventbridges_and_the_year_field_bounds_it() {
        // 2 = MON in EventBridge's numbering; 2026-01-05 is a Monday.
        assert_eq!(
            fires("cron(0 8 ? * 2 *)", "UTC", "2026-01-01T00:00:00Z", 2),
            ["2026-01-05T08:00:00+00:00", "2026-01-12T08:00:00+00:00"]
        );
        assert_eq!(
            fires(
                "cron(0/30 9 ? * MON-FRI 2026)",
                "UTC",
                "2026-12-31T09:10:00Z",
                3
            ),
            ["2026-12-31T09:30:00+00:00"]
        );
        assert_eq!(
            fires("cron(0 0 L * ? *)", "UTC", "2026-02-01T00:00:00Z", 1),
            ["2026-02-28T00:00:00+00:00"]
        );
    }

    #[test]
    fn at_fires_once_in_its_zone() {
        assert_eq!(
            fires(
                "at(2026-07-01T09:00:00)",
                "America/New_York",
                "2026-06-01T00:00:00Z",
                3
            ),
            ["2026-07-01T13:00:00+00:00"]
        );
    }

    #[test]
    fn bad_expressions_say_what_to_write() {
        for (text, says) in [
            ("cron(0 2 * * * *)", "must be ?"),
            ("cron(0 2 * *)", "six"),
            ("rate(0 minutes)", "positive"),
            ("rate(1 minutes)", "minute(s)"),
            ("rate(5 fortnights)", "UNIT"),
            ("every day", "rate(5 minutes)"),
            ("at(tomorrow)", "at(2026"),
        ] {
            let error = Expression::parse(text).expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
        assert!(time_zone("Mars/Olympus").is_err());
    }
}
