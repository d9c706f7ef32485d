//! The values of template variables for one post: its author, the CRM contact
//! the author is linked to, that contact's latest order, the channel.

use super::ResponseError;
use super::template::{Values, Variable};
use crate::store::{self, Db};

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
    let post = store::responses::post_context(db, post_id)
        .await?
        .ok_or(ResponseError::NoPost(post_id))?;
    let mut values = channel_values(&post.channel);
    let mut put = |var, value: Option<String>| {
        if let Some(value) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
            values.insert(var, value);
        }
    };
    put(Variable::AuthorHandle, post.handle);
    put(Variable::AuthorName, post.display_name);
    put(Variable::PostExcerpt, Some(excerpt(&post.text)));
    if let Some(contact_id) = post.contact_id {
        let name = store::responses::contact_name(db, contact_id).await?;
        put(
            Variable::ContactFirstName,
            name.as_deref()
                .and_then(|n| n.split_whitespace().next())
                .map(String::from),
        );
        put(Variable::ContactName, name);
        if let Some((reference, product)) = store::responses::latest_order(db, contact_id).await? {
            put(Variable::OrderReference, reference);
            put(Variable::OrderProduct, product);
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
    let statuses = store::responses::link_statuses(db, post_id).await?;
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
