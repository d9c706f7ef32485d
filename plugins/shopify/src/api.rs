//! The GraphQL Admin API (pinned to [`VERSION`]): one POST per query to
//! `/admin/api/VERSION/graphql.json`, the access token attached by the host
//! as `X-Shopify-Access-Token`. Errors map to the host's reactions; a
//! `THROTTLED` error waits as long as the cost bucket
//! (`extensions.cost.throttleStatus`) needs to hold the query's cost again.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use socialcrm_sdk::http::Request;
use socialcrm_sdk::{PluginError, RateLimit, ResultExt};

/// The API version every request names (Shopify supports each for a year).
pub const VERSION: &str = "2025-01";

/// A wait the cost bucket cannot tell (no throttle status): one second.
const DEFAULT_WAIT_MS: u64 = 1_000;

#[derive(Deserialize)]
struct Envelope<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
    #[serde(default)]
    extensions: Option<Extensions>,
}

#[derive(Deserialize)]
struct GraphqlError {
    message: String,
    #[serde(default)]
    extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize)]
struct ErrorExtensions {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
struct Extensions {
    cost: Option<Cost>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cost {
    requested_query_cost: Option<f64>,
    throttle_status: Option<ThrottleStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThrottleStatus {
    currently_available: f64,
    restore_rate: f64,
}

/// How long until the bucket holds `cost` again.
fn wait_ms(cost: Option<&Cost>) -> u64 {
    let Some(cost) = cost else { return DEFAULT_WAIT_MS };
    match (&cost.throttle_status, cost.requested_query_cost) {
        (Some(t), Some(requested)) if t.restore_rate > 0.0 => {
            let missing = (requested - t.currently_available).max(0.0);
            ((missing / t.restore_rate * 1000.0).ceil() as u64).max(DEFAULT_WAIT_MS)
        }
        _ => DEFAULT_WAIT_MS,
    }
}

/// Runs `query` with `variables` on `shop`; `what` names the step in errors.
pub fn query<T: DeserializeOwned>(shop: &str, query: &str, variables: Value, what: &str) -> Result<T, PluginError> {
    let url = format!("{shop}/admin/api/{VERSION}/graphql.json");
    let response = Request::post(url)
        .json(&json!({ "query": query, "variables": variables }))
        .context(what)?
        .send()
        .context(what)?;
    // A 429 may carry the same throttled body as a 200; without one, its
    // `Retry-After` decides.
    let envelope: Envelope<T> = if response.status == 429
        && let Ok(envelope) = response.json()
    {
        envelope
    } else {
        response.error_for_status().context(what)?.json().context(what)?
    };
    let cost = envelope.extensions.as_ref().and_then(|e| e.cost.as_ref());
    if let Some(e) = envelope.errors.first() {
        let code = e.extensions.as_ref().and_then(|x| x.code.as_deref());
        return Err(match code {
            Some("THROTTLED") => PluginError::RateLimited(RateLimit {
                retry_after_ms: wait_ms(cost),
                message: format!("{what}: {}", e.message),
            }),
            Some("ACCESS_DENIED") => PluginError::Unauthorized(format!("{what}: {}", e.message)),
            Some("INTERNAL_SERVER_ERROR") => PluginError::Transient(format!("{what}: {}", e.message)),
            _ => PluginError::Permanent(format!("{what}: {}", e.message)),
        });
    }
    envelope
        .data
        .ok_or_else(|| PluginError::Permanent(format!("{what}: a response without data")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_query_waits_until_the_bucket_holds_its_cost() {
        let cost = Cost {
            requested_query_cost: Some(752.0),
            throttle_status: Some(ThrottleStatus {
                currently_available: 502.0,
                restore_rate: 50.0,
            }),
        };
        assert_eq!(wait_ms(Some(&cost)), 5_000);
        assert_eq!(wait_ms(None), DEFAULT_WAIT_MS);
    }
}
