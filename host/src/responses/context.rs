//! The values of template variables for one post: its author, the CRM contact
//! the author is linked to, that contact's latest order, the channel.

use sqlx::Row;

use super::ResponseError;
use super::template::{Values, Variable};
use crate::store::Db;

/// Characters of a post kept by `{{post.excerpt}}`.
const EXCERPT_CHARS: usize = 60;

/// The values a broadcast can use: it answers no post, so only the channel's.
pub(crate) fn channel_values(channel: &str) -> Values {
    Values::from([(Variable::ChannelName, channel.to_string())])
}

/// The values for a reply to `post_id`. The contact is the one of the lowest
/// id among the author's confirmed links (as insights read it); an order is a
/// `purchase` or `subscription` transaction.
pub(crate) async fn post_values(db: &Db, post_id: i64) -> Result<Values, ResponseError> {
    let row = sqlx::query(
        "SELECT p.text, c.name AS channel, i.handle, i.display_name, \
         (SELECT MIN(l.contact_id) FROM identity_links l \
          WHERE l.identity_id = p.identity_id AND l.status = 'confirmed') AS contact_id \
         FROM posts p JOIN identities i ON i.id = p.identity_id JOIN channel_accounts c ON c.id = p.channel_id \
         WHERE p.id = $1",
    )
    .bind(post_id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(ResponseError::NoPost(post_id))?;
    let mut values = channel_values(&row.try_get::<String, _>("channel")?);
    let mut put = |var, value: Option<String>| {
        if let Some(value) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
            values.insert(var, value);
        }
    };
    put(Variable::AuthorHandle, row.try_get("handle")?);
    put(Variable::AuthorName, row.try_get("display_name")?);
    put(Variable::PostExcerpt, Some(excerpt(&row.try_get::<String, _>("text")?)));
    if let Some(contact_id) = row.try_get::<Option<i64>, _>("contact_id")? {
        let name: Option<String> = sqlx::query("SELECT name FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_one(db.pool())
            .await?
            .try_get("name")?;
        put(
            Variable::ContactFirstName,
            name.as_deref()
                .and_then(|n| n.split_whitespace().next())
                .map(String::from),
        );
        put(Variable::ContactName, name);
        let order = sqlx::query(
            "SELECT reference, product FROM transactions WHERE contact_id = $1 \
             AND kind IN ('purchase', 'subscription') ORDER BY occurred_at DESC, id DESC LIMIT 1",
        )
        .bind(contact_id)
        .fetch_optional(db.pool())
        .await?;
        if let Some(order) = order {
            put(Variable::OrderReference, order.try_get("reference")?);
            put(Variable::OrderProduct, order.try_get("product")?);
        }
    }
    Ok(values)
}

/// Why `variable` has no value for post `post_id`: a variable revealing CRM
/// data is [`ResponseError::Unconfirmed`] unless the author has a confirmed
/// link (then the contact just lacks the value).
pub(crate) async fn missing(db: &Db, post_id: i64, variable: Variable) -> Result<ResponseError, ResponseError> {
    if !variable.reveals_crm() {
        return Ok(ResponseError::MissingValue { variable, post_id });
    }
    let statuses: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT l.status FROM identity_links l JOIN posts p ON p.identity_id = l.identity_id WHERE p.id = $1",
    )
    .bind(post_id)
    .fetch_all(db.pool())
    .await?;
    Ok(if statuses.iter().any(|s| s == "confirmed") {
        ResponseError::MissingValue { variable, post_id }
    } else {
        ResponseError::Unconfirmed {
            variable,
            post_id,
            proposed: statuses.iter().any(|s| s == "proposed"),
        }
    })
}

/// The post's first [`EXCERPT_CHARS`] characters, whitespace collapsed, with
/// an ellipsis when cut.
fn excerpt(text: &str) -> String {
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() <= EXCERPT_CHARS {
        return words;
    }
    let cut: String = words.chars().take(EXCERPT_CHARS).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpt_collapses_and_cuts() {
        assert_eq!(super::excerpt("  my\n order   is late "), "my order is late");
        let long = "é".repeat(70);
        assert_eq!(super::excerpt(&long), format!("{}…", "é".repeat(60)));
    }
}
