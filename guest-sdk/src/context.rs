//! Where a call sits in the workflow: the execution, the state and the attempt.

/// Where this call sits in the workflow, as the host reported it.
///
/// Each call runs on a fresh instance, so this is all a task knows of earlier attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Identifies the execution, e.g. `arn:sandstep:states:local:execution:etl:4f1c...`.
    pub execution_id: String,
    /// The name of the Task state being run.
    pub state_name: String,
    /// 0 on the first attempt, then 1, 2, ... on each retry.
    pub retry_count: u32,
}
