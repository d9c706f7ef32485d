//! Output caps: a plugin's answer is checked before anything is kept.

use super::error::FailReason;
use super::limits::Limits;
use std::collections::BTreeSet;

use super::types::{
    Analysis, AnalysisInput, Author, Change, Post, Prediction, SignalKind, SignalSpec, SignalValue, SourcePage,
    TaxonomyEntry,
};

/// Factors of one prediction the host keeps.
pub const MAX_FACTORS: usize = 8;

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

/// Checks the deletions and edits a call reported (their count and total
/// size are held to the call's caps as they are reported, `state.rs`).
pub(crate) fn check_changes(changes: &[Change], limits: &Limits) -> Result<(), FailReason> {
    for change in changes {
        let id = match change {
            Change::PostDeleted { external_id } => external_id,
            Change::PostEdited {
                external_id,
                text,
                edited_at,
                raw,
            } => {
                field("changes.text", Some(text), limits)?;
                field("changes.edited-at", Some(edited_at), limits)?;
                field("changes.raw", raw.as_ref(), limits)?;
                external_id
            }
            Change::UserGone { external_user_id, .. } | Change::ErasureRequested { external_user_id, .. } => {
                external_user_id
            }
            Change::ReplyWindow {
                conversation_id,
                open_until,
            } => {
                field("conversations.open-until", Some(open_until), limits)?;
                conversation_id
            }
        };
        field("changes.external-id", Some(id), limits)?;
        if id.is_empty() {
            return Err(FailReason::InvalidOutput("a change without an external id".into()));
        }
    }
    Ok(())
}

/// Checks one page of a source: as many records as a page may hold posts
/// (`max-posts`, contacts, transactions and deletions each), every field
/// within the field cap, the whole within the output cap, every record with
/// an external id.
pub(crate) fn check_source_page(page: &SourcePage, limits: &Limits) -> Result<(), FailReason> {
    let counts = [
        ("contacts", page.contacts.len()),
        ("transactions", page.transactions.len()),
        ("deletions", page.deletions.len()),
    ];
    if let Some((what, n)) = counts.into_iter().find(|(_, n)| *n > limits.max_posts) {
        return Err(FailReason::OutputLimit(format!(
            "{n} {what}, more than the {} allowed per call",
            limits.max_posts
        )));
    }
    let mut total = field("cursor", Some(&page.cursor), limits)?;
    let mut ids = Vec::new();
    for c in &page.contacts {
        ids.push(&c.external_id);
        for (name, value) in [
            ("contact.name", c.name.as_ref()),
            ("contact.company", c.company.as_ref()),
        ] {
            total += field(name, value, limits)?;
        }
        for value in c.emails.iter().chain(&c.phones).chain(&c.websites) {
            total += field("contact.emails/phones/websites", Some(value), limits)?;
        }
        for h in &c.handles {
            total += field("contact.handles", Some(&h.network), limits)?
                + field("contact.handles", Some(&h.handle), limits)?;
        }
        for f in &c.custom_fields {
            total += field("contact.custom-fields", Some(&f.name), limits)?
                + field("contact.custom-fields", Some(&f.value), limits)?;
        }
    }
    for t in &page.transactions {
        ids.push(&t.external_id);
        ids.push(&t.contact_external_id);
        let fields = [
            ("transaction.amount", Some(&t.amount)),
            ("transaction.currency", Some(&t.currency)),
            ("transaction.occurred-at", Some(&t.occurred_at)),
            ("transaction.status", t.status.as_ref()),
            ("transaction.reference", t.reference.as_ref()),
        ];
        for (name, value) in fields {
            total += field(name, value, limits)?;
        }
        for line in &t.lines {
            let fields = [
                ("line.external-id", line.external_id.as_ref()),
                ("line.sku", line.sku.as_ref()),
                ("line.name", Some(&line.name)),
                ("line.amount", Some(&line.amount)),
            ];
            for (name, value) in fields {
                total += field(name, value, limits)?;
            }
        }
        if total > limits.max_output_bytes {
            break;
        }
    }
    ids.extend(page.deletions.iter().map(|d| &d.external_id));
    for id in ids {
        total += field("external-id", Some(id), limits)?;
        if id.is_empty() {
            return Err(FailReason::InvalidOutput("a record without an external id".into()));
        }
    }
    if total > limits.max_output_bytes {
        return Err(FailReason::OutputLimit(format!(
            "more than {} bytes in one call",
            limits.max_output_bytes
        )));
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

/// Custom signals an analyzer may declare, and mentions per post it may report.
pub const MAX_SIGNALS: usize = 32;
pub const MAX_ASPECTS: usize = 32;

/// A signal or label name: 1 to 64 of a-z, 0-9 and `-`.
fn signal_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks what `signals` adds: the declared `specs` (names, ranges, label
/// sets), and per analysis its readings against them and its aspect
/// mentions against the taxonomy and the post's text.
pub(crate) fn check_rich(
    analyses: &[Analysis],
    inputs: &[AnalysisInput],
    specs: &[SignalSpec],
    taxonomy: &[TaxonomyEntry],
    limits: &Limits,
) -> Result<(), FailReason> {
    let invalid = |why: String| Err(FailReason::InvalidOutput(why));
    if specs.len() > MAX_SIGNALS {
        return invalid(format!("{} custom signals, more than {MAX_SIGNALS}", specs.len()));
    }
    let mut names = BTreeSet::new();
    for spec in specs {
        if !signal_name(&spec.name) || !names.insert(spec.name.as_str()) {
            return invalid(format!(
                "custom signal `{}`: a name is 1 to 64 of a-z, 0-9 and `-`, once",
                spec.name
            ));
        }
        field("display-name", Some(&spec.display_name), limits)?;
        let fine = match &spec.kind {
            SignalKind::Score(r) => r.min.is_finite() && r.max.is_finite() && r.min < r.max,
            SignalKind::Label(set) | SignalKind::Labels(set) => {
                !set.is_empty() && set.len() <= 64 && set.iter().all(|l| signal_name(l))
            }
        };
        if !fine {
            return invalid(format!(
                "custom signal `{}`: a score needs finite min < max, a label set 1 to 64 labels of a-z, 0-9 and `-`",
                spec.name
            ));
        }
    }
    let known: BTreeSet<&str> = taxonomy.iter().map(|e| e.id.as_str()).collect();
    for (i, (a, input)) in analyses.iter().zip(inputs).enumerate() {
        let mut seen = BTreeSet::new();
        for r in &a.signals {
            let Some(spec) = specs.iter().find(|s| s.name == r.name) else {
                return invalid(format!("analysis {i}: signal `{}` was not declared", r.name));
            };
            if !seen.insert(r.name.as_str()) {
                return invalid(format!("analysis {i}: signal `{}` twice", r.name));
            }
            let fits = match (&spec.kind, &r.value) {
                (SignalKind::Score(range), SignalValue::Score(x)) => (range.min..=range.max).contains(x),
                (SignalKind::Label(set), SignalValue::Label(l)) => set.contains(l),
                (SignalKind::Labels(set), SignalValue::Labels(ls)) => {
                    ls.iter().all(|l| set.contains(l)) && ls.iter().collect::<BTreeSet<_>>().len() == ls.len()
                }
                _ => false,
            };
            if !fits {
                return invalid(format!(
                    "analysis {i}: signal `{}` has {:?}, which its declaration does not allow",
                    r.name, r.value
                ));
            }
        }
        if a.aspects.len() > MAX_ASPECTS {
            return invalid(format!(
                "analysis {i}: {} aspects, more than {MAX_ASPECTS}",
                a.aspects.len()
            ));
        }
        for m in &a.aspects {
            let (start, end) = (m.start as usize, m.end as usize);
            let text = &input.text;
            if !known.contains(m.entry.as_str()) {
                return invalid(format!("analysis {i}: `{}` is not a taxonomy entry", m.entry));
            }
            if start >= end || end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
                return invalid(format!(
                    "analysis {i}: mention {start}..{end} of `{}` is not a span of the text",
                    m.entry
                ));
            }
            if m.sentiment.is_some_and(|s| !(-1.0..=1.0).contains(&s)) {
                return invalid(format!(
                    "analysis {i}: the sentiment of `{}` is outside [-1, 1]",
                    m.entry
                ));
            }
        }
    }
    Ok(())
}

/// Checks one prediction per subject, each score in [0, 1] and each
/// contribution finite; keeps the first [`MAX_FACTORS`] factors.
pub(crate) fn check_predictions(
    predictions: &mut [Prediction],
    subjects: usize,
    limits: &Limits,
) -> Result<(), FailReason> {
    if predictions.len() != subjects {
        return Err(FailReason::InvalidOutput(format!(
            "{} predictions for {subjects} contacts",
            predictions.len()
        )));
    }
    let mut total = 0usize;
    for (i, p) in predictions.iter_mut().enumerate() {
        if !(0.0..=1.0).contains(&p.score) {
            return Err(FailReason::InvalidOutput(format!(
                "prediction {i}: score {} is outside [0, 1]",
                p.score
            )));
        }
        p.factors.truncate(MAX_FACTORS);
        for f in &p.factors {
            if !f.contribution.is_finite() {
                return Err(FailReason::InvalidOutput(format!(
                    "prediction {i}: factor `{}` has contribution {}",
                    f.feature, f.contribution
                )));
            }
            total += field("feature", Some(&f.feature), limits)? + field("note", Some(&f.note), limits)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Direction, PostKind, ScoredLabel};

    fn post(id: &str, text: &str) -> Post {
        Post {
            external_id: id.into(),
            kind: PostKind::Mention,
            direction: Direction::Inbound,
            author: Author {
                external_id: "a1".into(),
                handle: "alice".into(),
                display_name: None,
                profile_url: None,
                avatar_url: None,
                bio: None,
                followers: None,
                fields: Vec::new(),
            },
            text: text.into(),
            url: None,
            thread_id: None,
            in_reply_to: None,
            created_at: "2026-12-01T10:00:00Z".into(),
            language: None,
            raw: "{}".into(),
        }
    }

    #[test]
    fn predictions_match_their_contacts_and_stay_in_range() {
        let factor = |contribution: f64| crate::types::Factor {
            feature: "orders".into(),
            contribution,
            note: "1 order".into(),
        };
        let fine = Prediction {
            score: 0.4,
            factors: (0..12).map(|i| factor(i as f64 / 100.0)).collect(),
        };
        let mut one = vec![fine.clone()];
        assert!(check_predictions(&mut one, 1, &small()).is_ok());
        assert_eq!(one[0].factors.len(), MAX_FACTORS, "extra factors are dropped");
        let bad = |p: Prediction, n: usize| {
            check_predictions(&mut [p], n, &Limits::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(bad(fine.clone(), 2), "invalid output: 1 predictions for 2 contacts");
        for score in [f64::NAN, -0.1, 1.5] {
            let out = bad(Prediction { score, ..fine.clone() }, 1);
            assert!(out.contains("is outside [0, 1]"), "{out}");
        }
        let out = bad(
            Prediction {
                factors: vec![factor(f64::INFINITY)],
                ..fine.clone()
            },
            1,
        );
        assert!(out.contains("has contribution inf"), "{out}");
        let long = Prediction {
            factors: vec![crate::types::Factor {
                note: "x".repeat(200),
                ..factor(0.1)
            }],
            ..fine
        };
        assert!(check_predictions(&mut [long], 1, &small()).is_err());
    }

    #[test]
    fn custom_signals_and_aspects_are_what_was_declared_and_sent() {
        use crate::types::{AspectMention, EntryKind, ScoreRange, SignalReading};
        let specs = vec![
            SignalSpec {
                name: "urgency".into(),
                display_name: "Urgency".into(),
                kind: SignalKind::Score(ScoreRange { min: 0.0, max: 1.0 }),
            },
            SignalSpec {
                name: "tone".into(),
                display_name: "Tone".into(),
                kind: SignalKind::Labels(vec!["polite".into()]),
            },
        ];
        let taxonomy = [TaxonomyEntry {
            id: "battery".into(),
            kind: EntryKind::Aspect,
            name: "battery".into(),
            synonyms: Vec::new(),
        }];
        let input = AnalysisInput {
            text: "the battery — dead".into(),
            kind: crate::types::PostKind::Mention,
            language: None,
        };
        let reading = |name: &str, value: SignalValue| SignalReading {
            name: name.into(),
            value,
        };
        let mention = |entry: &str, start: u32, end: u32| AspectMention {
            entry: entry.into(),
            start,
            end,
            sentiment: Some(-1.0),
        };
        let check = |signals: Vec<SignalReading>, aspects: Vec<AspectMention>| {
            let a = Analysis {
                signals,
                aspects,
                ..Analysis::default()
            };
            check_rich(
                &[a],
                std::slice::from_ref(&input),
                &specs,
                &taxonomy,
                &Limits::default(),
            )
        };
        let fine = vec![
            reading("urgency", SignalValue::Score(0.5)),
            reading("tone", SignalValue::Labels(vec!["polite".into()])),
        ];
        assert!(check(fine, vec![mention("battery", 4, 11)]).is_ok());
        let refused = |r: Result<(), FailReason>| r.unwrap_err().to_string();
        let out = refused(check(vec![reading("spam", SignalValue::Score(0.1))], vec![]));
        assert!(out.contains("`spam` was not declared"), "{out}");
        assert!(refused(check(vec![reading("urgency", SignalValue::Score(1.5))], vec![])).contains("does not allow"));
        assert!(
            refused(check(vec![reading("urgency", SignalValue::Score(f64::NAN))], vec![])).contains("does not allow")
        );
        let rude = reading("tone", SignalValue::Labels(vec!["rude".into()]));
        assert!(refused(check(vec![rude], vec![])).contains("does not allow"));
        let twice = vec![
            reading("urgency", SignalValue::Score(0.1)),
            reading("urgency", SignalValue::Score(0.2)),
        ];
        assert!(refused(check(twice, vec![])).contains("twice"));
        assert!(refused(check(vec![], vec![mention("frame", 4, 11)])).contains("not a taxonomy entry"));
        assert!(refused(check(vec![], vec![mention("battery", 4, 99)])).contains("not a span"));
        // Byte 13 is inside the em dash.
        assert!(refused(check(vec![], vec![mention("battery", 12, 13)])).contains("not a span"));
        let bad_spec = SignalSpec {
            name: "Bad Name".into(),
            ..specs[0].clone()
        };
        assert!(check_rich(&[], &[], &[bad_spec], &[], &Limits::default()).is_err());
    }

    fn small() -> Limits {
        Limits {
            max_posts: 3,
            max_field_bytes: 100,
            max_output_bytes: 250,
            ..Limits::default()
        }
    }

    fn refused(result: Result<(), FailReason>) -> String {
        match result {
            Err(FailReason::OutputLimit(m) | FailReason::InvalidOutput(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn posts_within_every_cap_pass() {
        let posts: Vec<Post> = (0..3).map(|i| post(&format!("p{i}"), "hello")).collect();
        assert!(check_posts(&posts, &small()).is_ok());
    }

    #[test]
    fn one_post_over_the_count_is_refused() {
        let posts: Vec<Post> = (0..4).map(|i| post(&format!("p{i}"), "hi")).collect();
        assert_eq!(
            refused(check_posts(&posts, &small())),
            "4 posts, more than the 3 allowed per call"
        );
    }

    #[test]
    fn one_byte_over_a_field_is_refused_and_named() {
        assert!(check_posts(&[post("p", &"x".repeat(100))], &small()).is_ok());
        let mut long = post("p", "");
        long.author.bio = Some("x".repeat(101));
        assert_eq!(
            refused(check_posts(&[long], &small())),
            "field `author.bio` has 101 bytes, more than 100"
        );
    }

    #[test]
    fn a_source_page_is_held_to_the_same_caps() {
        let contact = |id: &str, email: &str| crate::types::SourceContact {
            external_id: id.into(),
            name: None,
            emails: vec![email.into()],
            phones: Vec::new(),
            websites: Vec::new(),
            company: None,
            handles: Vec::new(),
            custom_fields: Vec::new(),
        };
        let page = |contacts| SourcePage {
            contacts,
            cursor: "c".into(),
            ..SourcePage::default()
        };
        assert!(check_source_page(&page(vec![contact("1", "a@x.example")]), &small()).is_ok());
        let four = (0..4).map(|i| contact(&i.to_string(), "a@x.example")).collect();
        assert_eq!(
            refused(check_source_page(&page(four), &small())),
            "4 contacts, more than the 3 allowed per call"
        );
        let long = page(vec![contact("1", &"x".repeat(101))]);
        assert!(refused(check_source_page(&long, &small())).contains("has 101 bytes, more than 100"));
        let nameless = page(vec![contact("", "a@x.example")]);
        assert_eq!(
            refused(check_source_page(&nameless, &small())),
            "a record without an external id"
        );
    }

    #[test]
    fn the_call_total_counts_every_post() {
        // 3 posts of about 90 bytes each pass one by one, not together.
        let posts: Vec<Post> = (0..3).map(|i| post(&format!("p{i}"), &"x".repeat(60))).collect();
        assert!(check_posts(&posts[..2], &small()).is_ok());
        assert_eq!(
            refused(check_posts(&posts, &small())),
            "more than 250 bytes in one call"
        );
    }

    #[test]
    fn a_post_needs_external_ids() {
        let mut anonymous = post("p", "hi");
        anonymous.author.external_id.clear();
        assert!(refused(check_posts(&[anonymous], &small())).contains("without an external id"));
    }

    #[test]
    fn analyses_match_their_posts_and_stay_in_range() {
        let fine = Analysis {
            sentiment: Some(-1.0),
            intents: vec![ScoredLabel {
                name: "complaint".into(),
                confidence: 1.0,
            }],
            ..Analysis::default()
        };
        assert!(check_analyses(std::slice::from_ref(&fine), 1, &small()).is_ok());
        assert_eq!(
            refused(check_analyses(std::slice::from_ref(&fine), 2, &small())),
            "1 analyses for 2 posts"
        );
        let hot = Analysis {
            sentiment: Some(1.5),
            ..fine.clone()
        };
        assert!(refused(check_analyses(&[hot], 1, &small())).contains("sentiment 1.5 is outside [-1, 1]"));
        let mut sure = fine;
        sure.intents[0].confidence = 1.01;
        assert!(refused(check_analyses(&[sure], 1, &small())).contains("outside [0, 1]"));
    }
}
