//! Output caps: a plugin's answer is checked before anything is kept.

use super::error::FailReason;
use super::limits::Limits;
use super::types::{Analysis, Author, Post};

/// Checks the posts of one page or webhook result.
pub(crate) fn check_posts(posts: &[Post], limits: &Limits) -> Result<(), FailReason> {
    if posts.len() > limits.max_posts {
        return Err(FailReason::OutputLimit(format!(
            "{} posts, more than the {} allowed per call",
            posts.len(),
            limits.max_posts
        )));
    }
    let mut total = 0usize;
    for post in posts {
        total += post_bytes(post, limits)?;
        if total > limits.max_output_bytes {
            return Err(FailReason::OutputLimit(format!(
                "more than {} bytes in one call",
                limits.max_output_bytes
            )));
        }
        if post.external_id.is_empty() || post.author.external_id.is_empty() {
            return Err(FailReason::InvalidOutput(
                "a post or author without an external id".into(),
            ));
        }
    }
    Ok(())
}

fn post_bytes(post: &Post, limits: &Limits) -> Result<usize, FailReason> {
    let fields = [
        ("external-id", Some(&post.external_id)),
        ("text", Some(&post.text)),
        ("url", post.url.as_ref()),
        ("thread-id", post.thread_id.as_ref()),
        ("in-reply-to", post.in_reply_to.as_ref()),
        ("created-at", Some(&post.created_at)),
        ("language", post.language.as_ref()),
        ("raw", Some(&post.raw)),
    ];
    let mut total = author_bytes(&post.author, limits)?;
    for (name, value) in fields {
        total += field(name, value, limits)?;
    }
    Ok(total)
}

fn author_bytes(author: &Author, limits: &Limits) -> Result<usize, FailReason> {
    let fields = [
        ("author.external-id", Some(&author.external_id)),
        ("author.handle", Some(&author.handle)),
        ("author.display-name", author.display_name.as_ref()),
        ("author.profile-url", author.profile_url.as_ref()),
        ("author.avatar-url", author.avatar_url.as_ref()),
        ("author.bio", author.bio.as_ref()),
    ];
    let mut total = 0;
    for (name, value) in fields {
        total += field(name, value, limits)?;
    }
    for f in &author.fields {
        total += field("author.fields", Some(&f.name), limits)? + field("author.fields", Some(&f.value), limits)?;
    }
    Ok(total)
}

fn field(name: &str, value: Option<&String>, limits: &Limits) -> Result<usize, FailReason> {
    let len = value.map_or(0, String::len);
    if len > limits.max_field_bytes {
        return Err(FailReason::OutputLimit(format!(
            "field `{name}` has {len} bytes, more than {}",
            limits.max_field_bytes
        )));
    }
    Ok(len)
}

/// Checks one analysis per post, scores in range.
pub(crate) fn check_analyses(analyses: &[Analysis], posts: usize, limits: &Limits) -> Result<(), FailReason> {
    if analyses.len() != posts {
        return Err(FailReason::InvalidOutput(format!(
            "{} analyses for {posts} posts",
            analyses.len()
        )));
    }
    let mut total = 0usize;
    for (i, a) in analyses.iter().enumerate() {
        if let Some(s) = a.sentiment
            && !(-1.0..=1.0).contains(&s)
        {
            return Err(FailReason::InvalidOutput(format!(
                "analysis {i}: sentiment {s} is outside [-1, 1]"
            )));
        }
        if let Some(bad) = a.intents.iter().find(|l| !(0.0..=1.0).contains(&l.confidence)) {
            return Err(FailReason::InvalidOutput(format!(
                "analysis {i}: confidence {} of `{}` is outside [0, 1]",
                bad.confidence, bad.name
            )));
        }
        total += field("label", a.label.as_ref(), limits)? + field("language", a.language.as_ref(), limits)?;
        for name in a.intents.iter().map(|l| &l.name).chain(&a.topics) {
            total += field("intents/topics", Some(name), limits)?;
        }
        if total > limits.max_output_bytes {
            return Err(FailReason::OutputLimit(format!(
                "more than {} bytes in one call",
                limits.max_output_bytes
            )));
        }
    }
    Ok(())
}
