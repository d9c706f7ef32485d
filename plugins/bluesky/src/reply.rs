//! Building a post record to publish, and recognising one already published
//! so that a retried send does not post twice.

use serde_json::{Value, json};

use crate::entities::{PostRecord, ReplyRef, StrongRef};

/// The `reply` of an answer to `parent`: its root is the parent's own root
/// when the parent answers something, else the parent itself.
pub fn reply_ref(parent: StrongRef, parent_record: &PostRecord) -> ReplyRef {
    let root = parent_record
        .reply
        .as_ref()
        .map_or_else(|| parent.clone(), |r| r.root.clone());
    ReplyRef { root, parent }
}

/// An `app.bsky.feed.post` record.
pub fn record(text: &str, reply: Option<&ReplyRef>, created_at: &str) -> Value {
    let mut record = json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": created_at,
    });
    if let Some(reply) = reply {
        let strong = |r: &StrongRef| json!({ "uri": r.uri, "cid": r.cid });
        record["reply"] = json!({ "root": strong(&reply.root), "parent": strong(&reply.parent) });
    }
    record
}

/// Whether `existing`, one of the account's records, is this same post: the
/// same text answering the same parent (or nothing). A send retried after its
/// answer was lost finds its post this way instead of publishing it again.
pub fn same_post(existing: &PostRecord, text: &str, reply: Option<&ReplyRef>) -> bool {
    existing.text == text && existing.reply.as_ref().map(|r| &r.parent.uri) == reply.map(|r| &r.parent.uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong(name: &str) -> StrongRef {
        StrongRef {
            uri: format!("at://did:plc:a/app.bsky.feed.post/{name}"),
            cid: format!("bafy{name}"),
        }
    }

    fn post(value: Value) -> PostRecord {
        PostRecord::read(value).unwrap()
    }

    #[test]
    fn the_root_is_the_parents_root() {
        let top = post(json!({"text": "hi", "createdAt": "2026-11-23T10:00:00Z"}));
        let r = reply_ref(strong("p"), &top);
        assert_eq!((r.root, r.parent), (strong("p"), strong("p")));

        let nested = post(json!({"text": "hi", "reply": {
            "root": {"uri": strong("r").uri, "cid": strong("r").cid},
            "parent": {"uri": strong("q").uri, "cid": strong("q").cid}}}));
        let r = reply_ref(strong("p"), &nested);
        assert_eq!((r.root, r.parent), (strong("r"), strong("p")));
    }

    #[test]
    fn builds_the_record() {
        let r = ReplyRef {
            root: strong("r"),
            parent: strong("p"),
        };
        let value = record("Sorry!", Some(&r), "2026-11-23T10:00:00.000Z");
        assert_eq!(
            value,
            json!({
                "$type": "app.bsky.feed.post", "text": "Sorry!", "createdAt": "2026-11-23T10:00:00.000Z",
                "reply": {"root": {"uri": strong("r").uri, "cid": "bafyr"}, "parent": {"uri": strong("p").uri, "cid": "bafyp"}}
            })
        );
        assert!(record("Hello", None, "t").get("reply").is_none());
    }

    #[test]
    fn recognises_the_same_post() {
        let r = ReplyRef {
            root: strong("r"),
            parent: strong("p"),
        };
        let sent = post(record("Sorry!", Some(&r), "t"));
        assert!(same_post(&sent, "Sorry!", Some(&r)));
        assert!(!same_post(&sent, "Sorry!!", Some(&r)));
        let other = ReplyRef {
            root: strong("r"),
            parent: strong("x"),
        };
        assert!(!same_post(&sent, "Sorry!", Some(&other)));
        assert!(!same_post(&sent, "Sorry!", None));
        assert!(same_post(&post(record("Hello", None, "t")), "Hello", None));
    }
}
