//! `conversation_windows`: until when the brand may answer a conversation
//! with free text, as the channel's plugin reported it
//! (`conversations.reply-window`). The latest end wins: a report of an older
//! message never closes a window a newer one opened.

use sqlx::AnyConnection;

use super::Db;

/// Extends the window of each (conversation, end in Unix ms) of channel
/// `channel_id`, in the caller's transaction.
pub async fn extend(conn: &mut AnyConnection, channel_id: i64, windows: &[(&str, i64)]) -> Result<(), sqlx::Error> {
    for (conversation, until) in windows {
        sqlx::query(
            "INSERT INTO conversation_windows (channel_id, conversation_id, open_until) VALUES ($1, $2, $3) \
             ON CONFLICT (channel_id, conversation_id) DO UPDATE SET open_until = CASE \
             WHEN excluded.open_until > conversation_windows.open_until THEN excluded.open_until \
             ELSE conversation_windows.open_until END",
        )
        .bind(channel_id)
        .bind(*conversation)
        .bind(*until)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The end of conversation `conversation` of channel `channel_id`'s window
/// (Unix ms); `None` when the plugin never reported one.
pub async fn open_until(db: &Db, channel_id: i64, conversation: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT open_until FROM conversation_windows WHERE channel_id = $1 AND conversation_id = $2")
        .bind(channel_id)
        .bind(conversation)
        .fetch_optional(db.pool())
        .await
}
