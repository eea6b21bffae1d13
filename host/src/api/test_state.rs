//! `TestState`: one state run alone (checklist OP-08), through the same
//! `Engine::test_state` as `host test-state`, with the service's tasks for a
//! Task state that has no mock.

use std::sync::Arc;

use serde_json::Value;

use super::Service;
use super::protocol::{ApiError, Request};
use crate::engine::Engine;
use crate::engine::test_state::TestStateRequest;

pub async fn test_state(service: &Arc<Service>, request: Request) -> Result<Value, ApiError> {
    let request: TestStateRequest = request.into_typed()?;
    let engine = Engine::new(service.tasks.clone());
    match engine.test_state(&request).await {
        Ok(response) => serde_json::to_value(response)
            .map_err(|e| ApiError::internal(&anyhow::anyhow!("cannot write the response: {e}"))),
        Err(refused) if refused.code == "InvalidDefinition" => {
            Err(ApiError::service("InvalidDefinition", refused.message))
        }
        Err(refused) => Err(ApiError::validation_text(refused.message)),
    }
}
