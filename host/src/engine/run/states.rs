//! The states that do their work in the engine itself: Pass, Succeed,
//! Choice, Wait (on the execution's timeline) and Fail.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value;

use super::{Failure, Run, StateEnv, Step, Vars, history, later, seconds_value, until};
use crate::asl::model::*;
use crate::errors::{AslError, names};
use crate::query::jsonata::fields as jsonata_fields;

impl Run<'_> {
    pub(super) fn next(state: &State) -> Option<usize> {
        match state.transition {
            Transition::Next(next) => Some(next),
            Transition::End => None,
        }
    }

    pub(super) fn pass(
        &self,
        env: &StateEnv<'_>,
        result: Option<&Value>,
        input: Value,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        if env.jsonata() {
            return self.finish_jsonata(env, input, None, vars, Self::next(env.state));
        }
        let io_spec = &env.state.io;
        let identity = result.is_none()
            && io_spec.parameters.is_none()
            && matches!(io_spec.input_path, PathField::Default)
            && matches!(io_spec.result_path, PathField::Default);
        if identity {
            // The input is the result: move it instead of copying it.
            let assigned = self.assign_path(env, env.state.assign.as_ref(), &input, vars)?;
            let output = self.output_path(env, input, vars)?;
            return Ok(Step {
                output,
                next: Self::next(env.state),
                assigned,
            });
        }
        let result = match result {
            Some(result) => {
                // `Result` replaces the effective input, but InputPath/Parameters
                // still run: their path errors surface as on AWS.
                self.effective_input(env, &input, vars)?;
                result.clone()
            }
            None => self.effective_input(env, &input, vars)?.into_owned(),
        };
        self.finish(env, input, result, vars, Self::next(env.state))
    }

    pub(super) fn succeed(
        &self,
        env: &StateEnv<'_>,
        input: Value,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        if env.jsonata() {
            return self.finish_jsonata(env, input, None, vars, None);
        }
        let effective = self.effective_input(env, &input, vars)?.into_owned();
        let output = self.output_path(env, effective, vars)?;
        Ok(Step {
            output,
            next: None,
            assigned: None,
        })
    }

    pub(super) fn choice(
        &self,
        env: &StateEnv<'_>,
        choices: &[ChoiceBranch],
        default: Option<usize>,
        input: Value,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        let effective = self.effective_input(env, &input, vars)?.into_owned();
        let mut chosen = None;
        for branch in choices {
            let matched = match &branch.condition {
                Condition::Rule(rule) => {
                    self.with_scope(env, &effective, vars, None, |scope| rule.eval(scope))?
                }
                Condition::Jsonata(condition) => {
                    self.with_jsonata(env, &effective, vars, None, None, None, |j| {
                        condition.eval_condition("Condition", j)
                    })?
                }
            };
            if matched {
                chosen = Some(branch);
                break;
            }
        }
        // A matching rule's Assign and Output replace the state's own.
        let (next, assign, output) = match chosen {
            Some(branch) => (branch.next, branch.assign.as_ref(), branch.output.as_ref()),
            None => {
                let Some(default) = default else {
                    return Err(AslError::new(
                        names::NO_CHOICE_MATCHED,
                        "No Choice Rule matched and no Default was specified",
                    )
                    .into());
                };
                (
                    default,
                    env.state.assign.as_ref(),
                    env.state.output.as_ref(),
                )
            }
        };
        if env.jsonata() {
            return self.finish_with(env, assign, output, effective, None, vars, Some(next));
        }
        let assigned = self.assign_path(env, assign, &effective, vars)?;
        let output = self.output_path(env, effective, vars)?;
        Ok(Step {
            output,
            next: Some(next),
            assigned,
        })
    }

    pub(super) async fn wait(
        &self,
        env: &StateEnv<'_>,
        spec: &WaitSpec,
        input: Value,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        let effective = self.effective_input(env, &input, vars)?.into_owned();
        let duration = match spec {
            WaitSpec::Seconds(seconds) => Duration::from_secs(*seconds),
            WaitSpec::SecondsPath(path) => {
                let value = self.with_scope(env, &effective, vars, None, |scope| {
                    path.eval(scope).map(Cow::into_owned)
                });
                let Some(value) = value else {
                    return Err(AslError::runtime(format!(
                        "The SecondsPath parameter does not reference an input value: {path}"
                    ))
                    .into());
                };
                seconds_value(path.as_str(), &value)?
            }
            WaitSpec::Timestamp(text) => until(self.engine.clock.now(), crate::query::parse_timestamp(text).ok_or_else(|| {
                AslError::runtime(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                ))
            })?),
            WaitSpec::SecondsExpr(seconds) => {
                let seconds = self.with_jsonata(env, &effective, vars, None, None, None, |j| {
                    seconds.eval_integer("Seconds", j, jsonata_fields::SECONDS)
                })?;
                Duration::from_secs(u64::try_from(seconds).unwrap_or_default())
            }
            WaitSpec::TimestampExpr(timestamp) => {
                let at = self.with_jsonata(env, &effective, vars, None, None, None, |j| {
                    timestamp.eval_timestamp("Timestamp", j)
                })?;
                until(self.engine.clock.now(), at)
            }
            WaitSpec::TimestampPath(path) => {
                let value = self.with_scope(env, &effective, vars, None, |scope| {
                    path.eval(scope).map(Cow::into_owned)
                });
                let parsed = value.as_ref().and_then(Value::as_str).and_then(crate::query::parse_timestamp);
                let Some(at) = parsed else {
                    let shown = match &value {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => history::text(other),
                        None => String::new(),
                    };
                    return Err(AslError::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {shown}"
                    ))
                    .into());
                };
                until(self.engine.clock.now(), at)
            }
        };
        // A replayed Wait sleeps only what is left since it was entered.
        let duration = match spec {
            WaitSpec::Seconds(_) | WaitSpec::SecondsPath(_) | WaitSpec::SecondsExpr(_)
                if env.entered_replayed =>
            {
                until(self.engine.clock.now(), later(env.entered_time, duration))
            }
            _ => duration,
        };
        self.durable().await?;
        self.sleep(duration).await?;
        if env.jsonata() {
            return self.finish_jsonata(env, effective, None, vars, Self::next(env.state));
        }
        let assigned = self.assign_path(env, env.state.assign.as_ref(), &effective, vars)?;
        let output = self.output_path(env, effective, vars)?;
        Ok(Step {
            output,
            next: Self::next(env.state),
            assigned,
        })
    }

    pub(super) fn fail(
        &self,
        env: &StateEnv<'_>,
        error: &FailField,
        cause: &FailField,
        input: &Value,
        vars: &Vars,
    ) -> Failure {
        let resolve = |field: &FailField, name: &str| -> Result<Option<String>, Failure> {
            if let FailField::Jsonata(value) = field {
                let field_name = name.trim_end_matches("Path");
                return Ok(Some(self.with_jsonata(
                    env,
                    input,
                    vars,
                    None,
                    None,
                    None,
                    |j| value.eval_string(field_name, j),
                )?));
            }
            self.with_scope(env, input, vars, None, |scope| match field {
                FailField::Jsonata(_) => Ok(None),
                FailField::Absent => Ok(None),
                FailField::Literal(text) => Ok(Some(text.clone())),
                FailField::Path(path) => match path.eval(scope) {
                    Some(value) => Ok(Some(match value.as_ref() {
                        Value::String(s) => s.clone(),
                        other => history::text(other),
                    })),
                    None => Err(AslError::runtime(format!(
                        "The JSONPath '{path}' specified for the field '{name}' could not be found in the input '{}'",
                        history::text(input)
                    ))),
                },
                FailField::Intrinsic(call) => call.eval_field(scope, name).map(|value| match value {
                    Value::String(s) => Some(s),
                    other => Some(history::text(&other)),
                }),
            })
            .map_err(Failure::from)
        };
        let error = match resolve(error, "ErrorPath") {
            Ok(error) => error,
            Err(e) => return e,
        };
        let cause = match resolve(cause, "CausePath") {
            Ok(cause) => cause,
            Err(e) => return e,
        };
        Failure::Error(AslError {
            error: error.unwrap_or_default(),
            cause: cause.unwrap_or_default(),
        })
    }
}
