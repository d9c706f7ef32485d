//! Scorer bindings over HTTP: which scorer plugin makes each prediction
//! (`crate::insights::predict`).

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::insights::predict::{self, PredictError, PredictionBinding};
use crate::server::ApiError;
use crate::server::auth::{Admin, Auth, Viewer};
use crate::server::error::ErrorBody;
use crate::server::extract::{Json, Path};
use crate::server::page::Items;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(prediction_bindings))
        .routes(routes!(bind_prediction))
}

/// Which scorer makes each prediction.
#[utoipa::path(get, path = "/scorers/bindings", tag = "scorers",
    responses((status = 200, description = "One binding per prediction", body = Items<PredictionBinding>)))]
async fn prediction_bindings(
    _auth: Auth<Viewer>,
    State(app): State<App>,
) -> Result<Json<Items<PredictionBinding>>, ApiError> {
    let items = predict::bindings(app.db()).await.map_err(error)?;
    Ok(Json(Items { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewScorer {
    /// An installed or bundled scorer plugin.
    #[schema(pattern = "^[a-z0-9-]{1,64}$")]
    scorer: String,
}

/// Binds a prediction to a scorer after checking that it loads and makes
/// that prediction; the next recompute scores every contact with it.
#[utoipa::path(put, path = "/scorers/bindings/{prediction}", tag = "scorers",
    params(("prediction" = String, Path, description = "The prediction: `churn-risk`")), request_body = NewScorer,
    responses((status = 200, description = "The binding now", body = PredictionBinding),
        (status = 404, description = "No such prediction or plugin", body = ErrorBody),
        (status = 409, description = "Not a scorer, one that does not make the prediction, or one that fails", body = ErrorBody)))]
async fn bind_prediction(
    auth: Auth<Admin>,
    State(app): State<App>,
    Path(prediction): Path<String>,
    Json(new): Json<NewScorer>,
) -> Result<Json<PredictionBinding>, ApiError> {
    let bound = predict::bind(app.db(), &prediction, &new.scorer, auth.name())
        .await
        .map_err(error)?;
    Ok(Json(bound))
}

fn error(e: PredictError) -> ApiError {
    match e {
        PredictError::Prediction(_) | PredictError::Scorer { .. } => ApiError::not_found(e.to_string()),
        PredictError::NotScorer(_) | PredictError::DoesNotPredict { .. } | PredictError::Call { .. } => {
            ApiError::conflict(e.to_string())
        }
        PredictError::Db(e) => e.into(),
    }
}
