//! Conversations (docs/conversations.md): a post's conversation with its
//! history and reply window, and a contact's conversations.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::App;
use crate::server::ApiError;
use crate::server::auth::{Auth, Viewer};
use crate::server::extract::{Json, Path};
use crate::store::conversations::{self, ContactConversations, Conversation};
use crate::store::{contacts, now_ms};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(post_conversation))
        .routes(routes!(contact_conversations))
}

/// The conversation a post belongs to: the channel's thread (or messaging
/// conversation) with the post, its other posts and the brand's replies,
/// oldest first (the newest 200), and the reply window when the channel has one.
#[utoipa::path(get, path = "/posts/{id}/conversation", tag = "inbox",
    params(("id" = i64, Path, description = "Post id")),
    responses((status = 200, description = "The conversation", body = Conversation)))]
async fn post_conversation(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Conversation>, ApiError> {
    conversations::of_post(app.db(), id, now_ms())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no post {id}")))
}

/// The conversations a contact's confirmed identities posted in, the most
/// recently active first (the 100 the contact spoke in last).
#[utoipa::path(get, path = "/contacts/{id}/conversations", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id")),
    responses((status = 200, description = "The contact's conversations", body = ContactConversations)))]
async fn contact_conversations(
    _auth: Auth<Viewer>,
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<ContactConversations>, ApiError> {
    if !contacts::contact_exists(app.db(), id).await? {
        return Err(ApiError::not_found(format!("no contact {id}")));
    }
    Ok(Json(conversations::of_contact(app.db(), id, now_ms()).await?))
}
