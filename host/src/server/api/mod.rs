//! The JSON API under `/api/v1`, one module per resource. Every route is
//! registered with its OpenAPI description, so the document is the router.

mod admin;
mod analyzers;
mod channels;
mod contacts;
mod conversations;
mod currencies;
mod events;
mod identity;
mod imports;
mod insights;
mod plugin_index;
mod plugins;
mod posts;
mod replies;
mod responses;
mod retention;
mod scorers;
mod subjects;
mod taxonomy;

use utoipa_axum::router::OpenApiRouter;

use crate::app::App;

/// Every API route with its documentation.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(admin::routes())
        .merge(analyzers::routes())
        .merge(channels::routes())
        .merge(contacts::routes())
        .merge(conversations::routes())
        .merge(events::routes())
        .merge(identity::routes())
        .merge(imports::routes())
        .merge(insights::routes())
        .merge(plugin_index::routes())
        .merge(plugins::routes())
        .merge(posts::routes())
        .merge(replies::routes())
        .merge(responses::routes())
        .merge(retention::routes())
        .merge(scorers::routes())
        .merge(currencies::routes())
        .merge(subjects::routes())
        .merge(taxonomy::routes())
}
