//! What the `#[sandstep::task]` expansion calls: the WIT bindings and the glue between the
//! world's `run` export and the author's typed function. Not a public API.

use serde::{Serialize, de::DeserializeOwned};

use crate::{Context, Error};

/// Bindings for the `sandstep:task/task` world, generated once from the repository's `wit/`.
#[allow(missing_docs, reason = "generated code")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "task",
        pub_export_macro: true,
        export_macro_name: "__sandstep_export_task",
        default_bindings_module: "::sandstep::__private::bindings",
        runtime_path: "::sandstep::__private::wit_bindgen::rt",
    });
}

pub use bindings::__sandstep_export_task as export;
pub use wit_bindgen;

/// Runs the author's function on the world's raw arguments: decodes the input, converts the
/// context, encodes the output, and turns every failure into a `task-error`.
pub fn call<I, O>(
    input: String,
    ctx: bindings::Context,
    task: impl FnOnce(I, &Context) -> Result<O, Error>,
) -> Result<String, bindings::TaskError>
where
    I: DeserializeOwned,
    O: Serialize,
{
    let ctx = Context {
        execution_id: ctx.execution_id,
        state_name: ctx.state_name,
        retry_count: ctx.retry_count,
    };
    run_typed(&input, &ctx, task).map_err(|e| bindings::TaskError {
        error: e.name().to_owned(),
        cause: e.cause().to_owned(),
    })
}

/// The part of [`call`] that does not touch the generated types, so it can be tested natively.
pub fn run_typed<I, O>(
    input: &str,
    ctx: &Context,
    task: impl FnOnce(I, &Context) -> Result<O, Error>,
) -> Result<String, Error>
where
    I: DeserializeOwned,
    O: Serialize,
{
    let input = decode::<I>(input)?;
    let output = task(input, ctx)?;
    serde_json::to_string(&output).map_err(|e| {
        Error::new(
            Error::INVALID_OUTPUT,
            format!(
                "the result does not encode as `{}` JSON: {e}",
                std::any::type_name::<O>()
            ),
        )
    })
}

fn decode<I: DeserializeOwned>(input: &str) -> Result<I, Error> {
    // Tracking the field path slows every decode; pay for it only to explain a failure.
    match serde_json::from_str::<I>(input) {
        Ok(value) => Ok(value),
        Err(plain) => match decode_tracked::<I>(input) {
            Err(explained) => Err(explained),
            Ok(_) => Err(Error::new(
                Error::INVALID_INPUT,
                format!(
                    "the input does not match `{}`: {plain}",
                    short_type_name::<I>()
                ),
            )),
        },
    }
}

/// Decodes `input` keeping the path to the field being read, so a failure names it.
fn decode_tracked<I: DeserializeOwned>(input: &str) -> Result<I, Error> {
    let type_name = short_type_name::<I>();
    let mut de = serde_json::Deserializer::from_str(input);
    let value = serde_path_to_error::deserialize::<_, I>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            "the input".to_owned()
        } else {
            format!("field \"{path}\"")
        };
        Error::new(
            Error::INVALID_INPUT,
            format!("{at} does not match `{type_name}`: {}", e.into_inner()),
        )
    })?;
    de.end().map_err(|e| {
        Error::new(
            Error::INVALID_INPUT,
            format!("the input does not match `{type_name}`: {e}"),
        )
    })?;
    Ok(value)
}

/// `my_task::Order` → `Order`, `alloc::vec::Vec<my_task::Row>` → `Vec<Row>`: the names authors
/// wrote, without module paths.
fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Order {
        #[allow(dead_code, reason = "read only by serde")]
        id: String,
        lines: Vec<Line>,
    }

    #[derive(Debug, Deserialize)]
    struct Line {
        qty: u32,
    }

    #[derive(Serialize)]
    struct Total {
        qty: u32,
    }

    fn total(order: Order, _: &Context) -> Result<Total, Error> {
        Ok(Total {
            qty: order.lines.iter().map(|l| l.qty).sum(),
        })
    }

    #[test]
    fn good_input_round_trips() {
        let out = run_typed(
            r#"{"id":"o1","lines":[{"qty":2},{"qty":3}]}"#,
            &Context::default(),
            total,
        );
        assert_eq!(out, Ok(r#"{"qty":5}"#.to_owned()));
    }

    #[test]
    fn bad_input_names_the_field_path_and_expected_type() {
        let e = run_typed(
            r#"{"id":"o1","lines":[{"qty":2},{"qty":"three"}]}"#,
            &Context::default(),
            total,
        )
        .expect_err("qty is a string");
        assert_eq!(e.name(), "Task.InvalidInput");
        assert!(e.cause().starts_with("field \"lines[1].qty\" does not match `Order`: invalid type: string \"three\", expected u32"), "{}", e.cause());
    }

    #[test]
    fn missing_field_is_reported_at_its_parent() {
        let e =
            run_typed(r#"{"lines":[]}"#, &Context::default(), total).expect_err("id is missing");
        assert_eq!(e.name(), "Task.InvalidInput");
        assert!(
            e.cause()
                .starts_with("the input does not match `Order`: missing field `id`"),
            "{}",
            e.cause()
        );
    }

    #[test]
    fn task_errors_pass_through_unchanged() {
        let e = run_typed(
            "{}",
            &Context::default(),
            |_: serde_json::Value, _: &Context| -> Result<(), Error> {
                Err(Error::new("Orders.Empty", "no lines"))
            },
        )
        .expect_err("the task fails");
        assert_eq!(e, Error::new("Orders.Empty", "no lines"));
    }

    #[test]
    fn unencodable_output_is_invalid_output() {
        let e = run_typed("null", &Context::default(), |_: (), _: &Context| {
            Ok(BTreeMap::from([(
                (1, 2),
                "tuple keys are not JSON object keys",
            )]))
        })
        .expect_err("tuple keys do not encode");
        assert_eq!(e.name(), "Task.InvalidOutput");
        assert!(e.cause().contains("key must be a string"), "{}", e.cause());
    }

    #[test]
    fn type_names_drop_module_paths() {
        assert_eq!(short_type_name::<Vec<Line>>(), "Vec<Line>");
        assert_eq!(short_type_name::<Option<String>>(), "Option<String>");
    }
}
