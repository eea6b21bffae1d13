//! Fail states: `Error` xor `ErrorPath`, `Cause` xor `CausePath`
//! (checklist FAIL-01).

use super::paths;
use super::query_language::{self, Lang};
use super::values;
use super::{Checker, StateCx};

/// Fail: `Error` xor `ErrorPath`, `Cause` xor `CausePath`.
pub(crate) fn check(ch: &mut Checker, cx: &StateCx<'_>) {
    values::exclusive(ch, cx, &["Error", "ErrorPath"]);
    values::exclusive(ch, cx, &["Cause", "CausePath"]);
    for key in ["Error", "Cause", "ErrorPath", "CausePath"] {
        let Some(value) = cx.get(key) else { continue };
        let loc = cx.at(key);
        let Some(s) = values::string(ch, &loc, key, value) else {
            continue;
        };
        if key.ends_with("Path") {
            if let Err(reason) = paths::reference_path_or_intrinsic(s) {
                ch.schema(
                    &loc,
                    format!(
                        "Field '{key}' is {}, which is neither a reference path nor an \
                         intrinsic function call: {reason}",
                        values::show(value)
                    ),
                );
            }
        } else if cx.lang == Lang::Jsonata {
            query_language::jsonata_string(ch, &loc, s);
        }
    }
}
