//! JSON text as AWS's Java runtime writes it (Jackson): the same as
//! serde_json's compact form except for floating-point numbers, which Java
//! prints with `Double.toString` (`1.0E20`, `1.5E-7`, `1.23456789E7`), where
//! Rust prints `1e20`. `States.JsonToString`, `States.Format` and the values
//! quoted in causes go through here, so the strings match AWS's.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{CompactFormatter, Formatter, Serializer};

/// Compact JSON text with Java's number spelling.
pub(crate) fn to_json(v: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, JavaFormatter);
    v.serialize(&mut ser)
        .expect("a serde_json::Value always serializes to memory");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

struct JavaFormatter;

impl Formatter for JavaFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(double_to_string(value).as_bytes())
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        CompactFormatter.begin_array_value(writer, first)
    }
}

/// Java's `Double.toString` for a finite value: the shortest digits that
/// read back as the same double, written plainly when 10^-3 <= |v| < 10^7
/// (`100.0`, `0.001`) and as `d.dddE±n` otherwise; always a fraction digit.
pub(crate) fn double_to_string(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    if !value.is_finite() {
        // Not JSON; Java's spellings, for completeness.
        return if value.is_nan() {
            "NaN".to_owned()
        } else if value > 0.0 {
            "Infinity".to_owned()
        } else {
            "-Infinity".to_owned()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e7", "5e-324".
    let sci = format!("{:e}", value.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always writes an exponent");
    let exp: i32 = exp.parse().expect("{:e} writes a decimal exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value < 0.0 { "-" } else { "" };
    let abs = value.abs();
    if (1e-3..1e7).contains(&abs) {
        let plain = if exp >= 0 {
            let int_len = usize::try_from(exp).unwrap_or(0) + 1;
            let mut int_part = digits.chars().take(int_len).collect::<String>();
            while int_part.len() < int_len {
                int_part.push('0');
            }
            let frac: String = digits.chars().skip(int_len).collect();
            let frac = if frac.is_empty() {
                "0".to_owned()
            } else {
                frac
            };
            format!("{int_part}.{frac}")
        } else {
            let zeros = usize::try_from(-exp - 1).unwrap_or(0);
            format!("0.{}{digits}", "0".repeat(zeros))
        };
        return format!("{sign}{plain}");
    }
    let (first, rest) = digits.split_at(1);
    let rest = if rest.is_empty() { "0" } else { rest };
    format!("{sign}{first}.{rest}E{exp}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn doubles_print_as_java_does() {
        // Values printed by OpenJDK's Double.toString.
        for (v, java) in [
            (1.0, "1.0"),
            (1.1, "1.1"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.5e-7, "1.5E-7"),
            (9_999_999.0, "9999999.0"),
            (1e7, "1.0E7"),
            (12_345_678.9, "1.23456789E7"),
            (1e20, "1.0E20"),
            (-2.5e300, "-2.5E300"),
            (123.456, "123.456"),
        ] {
            assert_eq!(double_to_string(v), java, "{v:e}");
        }
    }

    #[test]
    fn json_text_keeps_integers_and_spells_doubles_the_java_way() {
        assert_eq!(
            to_json(&json!({"a": [1, 1e20, -3, 0.5, "x"], "b": null})),
            r#"{"a":[1,1.0E20,-3,0.5,"x"],"b":null}"#
        );
    }
}
