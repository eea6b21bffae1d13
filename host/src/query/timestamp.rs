//! Timestamps as AWS reads them in Choice `Timestamp*` rules and Wait
//! `Timestamp`/`TimestampPath`: Java's `ISO_OFFSET_DATE_TIME` ("ISO-8601
//! extended offset date-time", the phrase of AWS's Wait error), so
//! `2016-12-05T21:29:29Z`, `…T21:29Z`, `…T21:29:29.123456789+01:00`.
//!
//! Like Java it is case-insensitive (`t`, `z`) and seconds are optional;
//! unlike Java it accepts only four-digit years (AWS dates never need more).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parses `s` as an ISO-8601 extended offset date-time; `None` if it is not
/// one (wrong shape, impossible date, hour 24, leap second, …).
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let mut c = Cursor(s.as_bytes());
    let year = c.digits(4)?;
    c.expect(b'-')?;
    let month = c.digits(2)?;
    c.expect(b'-')?;
    let day = c.digits(2)?;
    c.expect_ci(b'T')?;
    let hour = c.digits(2)?;
    c.expect(b':')?;
    let minute = c.digits(2)?;
    let (mut second, mut nano) = (0, 0);
    if c.peek() == Some(b':') {
        c.expect(b':')?;
        second = c.digits(2)?;
        if c.peek() == Some(b'.') {
            c.expect(b'.')?;
            let start = c.0.len();
            let mut n: u32 = 0;
            let mut width = 0;
            while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
                if width == 9 {
                    return None;
                }
                c.0 = &c.0[1..];
                n = n * 10 + u32::from(d - b'0');
                width += 1;
            }
            debug_assert!(start - c.0.len() == width);
            nano = n * 10u32.pow(9 - width as u32);
        }
    }
    let offset = if c.peek().is_some_and(|b| b.eq_ignore_ascii_case(&b'Z')) {
        c.0 = &c.0[1..];
        UtcOffset::UTC
    } else {
        let sign: i8 = match c.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        c.0 = &c.0[1..];
        let h = c.digits(2)?;
        let (mut m, mut sec) = (0, 0);
        if c.peek() == Some(b':') {
            c.expect(b':')?;
            m = c.digits(2)?;
            if c.peek() == Some(b':') {
                c.expect(b':')?;
                sec = c.digits(2)?;
            }
        }
        if h > 18 || m > 59 || sec > 59 || (h == 18 && (m > 0 || sec > 0)) {
            return None;
        }
        let signed = |v: u32| i8::try_from(v).ok().map(|v| v * sign);
        UtcOffset::from_hms(signed(h)?, signed(m)?, signed(sec)?).ok()?
    };
    if !c.0.is_empty() {
        return None;
    }
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        nano,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| self.0 = &self.0[1..])
    }

    fn expect_ci(&mut self, b: u8) -> Option<()> {
        self.peek()?
            .eq_ignore_ascii_case(&b)
            .then(|| self.0 = &self.0[1..])
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let head = self.0.get(..n)?;
        if !head.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[n..];
        Some(head.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instant `s` denotes, as Unix nanoseconds; `None` when rejected.
    fn check(s: &str) -> Option<i128> {
        parse_timestamp(s).map(OffsetDateTime::unix_timestamp_nanos)
    }

    #[test]
    fn accepts_what_java_accepts() {
        let base = check("2016-12-05T21:29:29Z").expect("valid");
        assert_eq!(base, 1_480_973_369_000_000_000);
        assert_eq!(check("2016-12-05t21:29:29z"), Some(base));
        assert_eq!(check("2016-12-05T22:29:29+01:00"), Some(base));
        assert_eq!(check("2016-12-05T20:29:29-01"), Some(base));
        assert_eq!(check("2016-12-05T21:29:29-00:00"), Some(base));
        assert_eq!(check("2016-12-05T21:29Z"), Some(base - 29_000_000_000));
        assert_eq!(check("2016-12-05T21:29:29.5Z"), Some(base + 500_000_000));
        assert_eq!(
            check("2016-12-05T21:29:29.123456789Z"),
            Some(base + 123_456_789)
        );
        assert_eq!(check("2016-12-05T21:29:29.Z"), Some(base));
        assert!(check("2016-12-05T21:29:29+01:00:30").is_some());
    }

    #[test]
    fn rejects_what_java_rejects() {
        for s in [
            "05-12-2016T21:29:29Z",
            "2016-12-05 21:29:29Z",
            "2016-12-05T21:29:29",
            "2016-12-05T25:29:29Z",
            "2016-13-05T21:29:29Z",
            "2016-02-30T21:29:29Z",
            "2016-12-05T24:00:00Z",
            "2016-12-05T23:59:60Z",
            "2016-12-05T21:29:29.1234567891Z",
            "2016-12-05T21:29:29+0100",
            "2016-12-05T21:29:29+19:00",
            " 2016-12-05T21:29:29Z",
            "2016-12-05T21:29:29Z ",
            "2023-02-24 12:15:56.832957",
            "2023-02-24",
            "",
        ] {
            assert_eq!(check(s), None, "{s}");
        }
    }
}
