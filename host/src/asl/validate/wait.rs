//! Wait states: exactly one of `Seconds`, `Timestamp`, `SecondsPath`,
//! `TimestampPath` (checklist WAIT-01..03).

use super::paths::Roots;
use super::query_language::{self, Lang};
use super::values::{self, MAX_SECONDS};
use super::{Checker, StateCx};

/// Wait: exactly one of its four duration fields.
pub(crate) fn check(ch: &mut Checker, cx: &StateCx<'_>) {
    const DURATIONS: [&str; 4] = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];
    let count = values::exclusive(ch, cx, &DURATIONS);
    if count == 0 {
        let usable: Vec<&str> = DURATIONS
            .into_iter()
            .filter(|f| cx.lang == Lang::JsonPath || !f.ends_with("Path"))
            .collect();
        ch.schema(
            &cx.loc,
            format!(
                "A Wait state needs exactly one of [{}]: say how long, or until when, to wait",
                usable.join(", ")
            ),
        );
    }
    for key in DURATIONS {
        let Some(value) = cx.get(key) else { continue };
        let loc = cx.at(key);
        match key {
            "Seconds" => {
                values::integer_or_expression(ch, cx, &loc, key, value, 0, MAX_SECONDS);
            }
            "Timestamp" => {
                if let Some(s) = values::string(ch, &loc, key, value) {
                    if cx.lang == Lang::Jsonata && query_language::expression(s).is_some() {
                        query_language::jsonata_string(ch, &loc, s);
                    } else if !values::is_timestamp(s) {
                        ch.schema(
                            &loc,
                            format!(
                                "Field 'Timestamp' is {}, which is not an ISO-8601 \
                                 timestamp such as \"2016-03-14T01:59:00Z\"",
                                values::show(value)
                            ),
                        );
                    }
                }
            }
            _ => values::reference_path_field(ch, &loc, key, value, Roots::NO_CONTEXT),
        }
    }
}
