//! Identity resolution: verified evidence links, anything an author writes is
//! a proposal with its evidence; ambiguity never links; decisions are
//! reversible, audited, and never touch contacts or identities. On SQLite and
//! PostgreSQL.

mod common;

use socialcrm::crm::identity::{self, IdentityError, LinkView, ResolveReport, Resolved};
use socialcrm::crm::import;
use socialcrm::ingest::{ChannelRef, KnownAuthors, PageRows, commit_pages};
use socialcrm::runtime::types::{Author, Direction, Post, PostKind, ProfileField};
use socialcrm::runtime::{KvChanges, VerifiedFields};
use socialcrm::store::{Db, now_ms};
use sqlx::Row;

const CONTACTS: &str = "\
id,name,email,phone,website,mastodon
C1,Maya Okafor,maya@example.com,+1 555 010 2030,https://mayarides.example,
C2,Tom Becker,shared@example.org,,,tom@demo.social
C3,Tina Becker,shared@example.org,,,
C4,Lina Sorensen,lina@example.net,,,
";

const TRANSACTIONS: &str = "\
id,contact_id,kind,amount,currency,occurred_at,reference,product
T1,C1,purchase,2499.00,EUR,2026-03-14,LB-1001,X2 e-bike
T2,C4,purchase,89.5,EUR,2026-10-02,LB-20931,rear rack
";

/// The name of the profile field the test network verifies, as Mastodon
/// verifies a link that links back to the profile.
const VERIFIED_FIELD: &str = "Site";

/// An author's profile.
#[derive(Clone, Default)]
struct Profile {
    user: &'static str,
    handle: &'static str,
    name: Option<&'static str>,
    bio: Option<&'static str>,
    fields: Vec<(&'static str, &'static str)>,
    /// A website in a field the network verified ([`VERIFIED_FIELD`]).
    site: Option<&'static str>,
}

fn post(id: &str, author: &Profile, text: &str) -> Post {
    Post {
        external_id: id.into(),
        kind: PostKind::Mention,
        direction: Direction::Inbound,
        author: Author {
            external_id: author.user.into(),
            handle: author.handle.into(),
            display_name: author.name.map(Into::into),
            profile_url: Some(format!("https://demo.social/@{}", author.handle)),
            avatar_url: None,
            bio: author.bio.map(Into::into),
            followers: Some(3),
            fields: author
                .fields
                .iter()
                .copied()
                .chain(author.site.map(|site| (VERIFIED_FIELD, site)))
                .map(|(name, value)| ProfileField {
                    name: name.into(),
                    value: value.into(),
                })
                .collect(),
        },
        text: text.into(),
        url: None,
        thread_id: None,
        in_reply_to: None,
        created_at: "2026-11-22T08:00:00Z".into(),
        language: Some("en".into()),
        raw: "{}".into(),
    }
}

/// A CRM with contacts and transactions.
async fn crm(db: &Db) {
    import::contacts(db, CONTACTS.as_bytes(), &|_| {}).await.unwrap();
    import::transactions(db, TRANSACTIONS.as_bytes(), &|_| {})
        .await
        .unwrap();
}

async fn channel(db: &Db, name: &str, network: &str) -> ChannelRef {
    let now = now_ms();
    let id = sqlx::query(
        "INSERT INTO channel_accounts (name, plugin, network, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id",
    )
    .bind(name)
    .bind(network)
    .bind(network)
    .bind(now)
    .bind(now)
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("id");
    ChannelRef {
        id,
        network: network.into(),
        lease_owner: None,
    }
}

/// Commits `posts` as one page and resolves the new ones as the ingest
/// does: their authors as the commit knew them.
async fn ingest(db: &Db, channel: &ChannelRef, posts: &[Post]) -> (Vec<i64>, ResolveReport) {
    ingest_with(db, channel, posts, &Resolved::default()).await
}

async fn ingest_with(db: &Db, channel: &ChannelRef, posts: &[Post], resolved: &Resolved) -> (Vec<i64>, ResolveReport) {
    // The network's marks, as a plugin makes them through `verification`.
    let verified: VerifiedFields = posts
        .iter()
        .flat_map(|p| p.author.fields.iter().map(move |f| (&p.author, f)))
        .filter(|(_, f)| f.name == VERIFIED_FIELD)
        .map(|(a, f)| (a.external_id.clone(), f.name.clone(), f.value.clone()))
        .collect();
    let page = [PageRows {
        posts,
        verified: &verified,
        analyses: &[],
        changes: &[],
    }];
    let known = KnownAuthors::default();
    let committed = commit_pages(db, channel, &page, None, &KvChanges::new(), &known)
        .await
        .unwrap();
    let report = identity::resolve_new(db, committed.authors, resolved).await.unwrap();
    (committed.new_posts, report)
}

async fn contact_id(db: &Db, external_id: &str) -> i64 {
    sqlx::query("SELECT id FROM contacts WHERE external_id = $1")
        .bind(external_id)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("id")
}

async fn identity_id(db: &Db, user: &str) -> i64 {
    sqlx::query("SELECT id FROM identities WHERE external_user_id = $1")
        .bind(user)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("id")
}

/// Every link, oldest first.
async fn all_links(db: &Db) -> Vec<LinkView> {
    let mut links = identity::links(db, None, 1000).await.unwrap();
    links.sort_by_key(|l| l.id);
    links
}

/// (actor, action, subject) of the identity entries in the audit log, oldest first.
async fn link_audit(db: &Db) -> Vec<(String, String, String)> {
    sqlx::query("SELECT actor, action, subject FROM audit_log WHERE action LIKE 'identity.%' ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("actor"), r.get("action"), r.get("subject")))
        .collect()
}

/// Contacts and identities as stored, to show links never change them.
async fn snapshot(db: &Db) -> Vec<String> {
    let mut rows = Vec::new();
    for r in sqlx::query(
        "SELECT id, external_id, name, email, phone, website, handles, updated_at FROM contacts ORDER BY id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    {
        rows.push(format!(
            "{}|{}|{:?}|{:?}|{:?}|{:?}|{}|{}",
            r.get::<i64, _>("id"),
            r.get::<String, _>("external_id"),
            r.get::<Option<String>, _>("name"),
            r.get::<Option<String>, _>("email"),
            r.get::<Option<String>, _>("phone"),
            r.get::<Option<String>, _>("website"),
            r.get::<String, _>("handles"),
            r.get::<i64, _>("updated_at"),
        ));
    }
    for r in sqlx::query("SELECT id, network, handle, display_name, bio, fields, last_seen FROM identities ORDER BY id")
        .fetch_all(db.pool())
        .await
        .unwrap()
    {
        rows.push(format!(
            "{}|{}|{}|{:?}|{:?}|{}|{}",
            r.get::<i64, _>("id"),
            r.get::<String, _>("network"),
            r.get::<String, _>("handle"),
            r.get::<Option<String>, _>("display_name"),
            r.get::<Option<String>, _>("bio"),
            r.get::<String, _>("fields"),
            r.get::<i64, _>("last_seen"),
        ));
    }
    rows
}

/// Maya's website verified by the network: she is C1. The email in her bio
/// alone would only propose it.
const MAYA: Profile = Profile {
    user: "u-maya",
    handle: "mr@demo.social",
    name: Some("MR"),
    bio: Some("Rides e-bikes. Write to Maya@Example.com"),
    fields: Vec::new(),
    site: Some("https://mayarides.example"),
};

#[tokio::test(flavor = "multi_thread")]
async fn authors_seen_before_an_import_are_linked_by_the_catch_up() {
    common::on_each_db(|db| async move {
        let ch = channel(&db, "brand", "mastodon").await;
        let (_, report) = ingest(&db, &ch, &[post("1", &MAYA, "my bike is great")]).await;
        assert_eq!(report.confirmed, 0, "no CRM yet");
        assert_eq!(
            identity::catch_up(&db).await.unwrap().confirmed,
            0,
            "nothing to match yet"
        );

        crm(&db).await;
        let caught = identity::catch_up(&db).await.unwrap();
        assert_eq!((caught.identities, caught.confirmed), (1, 1));
        let links = all_links(&db).await;
        assert_eq!(
            (links.len(), links[0].contact_id, links[0].status.as_str()),
            (1, contact_id(&db, "C1").await, "confirmed")
        );
        let again = identity::catch_up(&db).await.unwrap();
        assert_eq!(again, ResolveReport::default(), "up to date: nothing looked at again");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verified_website_links_with_one_audit_entry() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let (_, report) = ingest(&db, &ch, &[post("1", &MAYA, "my bike is great")]).await;
        assert_eq!(
            (report.posts, report.identities, report.confirmed, report.proposed),
            (1, 1, 1, 0)
        );

        let links = all_links(&db).await;
        assert_eq!(links.len(), 1);
        let l = &links[0];
        assert_eq!(
            (
                l.identity_id,
                l.contact_id,
                l.status.as_str(),
                l.method.as_str(),
                l.confidence
            ),
            (
                identity_id(&db, "u-maya").await,
                contact_id(&db, "C1").await,
                "confirmed",
                "website",
                1.0
            )
        );
        assert_eq!(l.decided_by.as_deref(), Some("resolver"));
        let evidence: Vec<(&str, &str, &str, f64)> = l
            .evidence
            .iter()
            .map(|e| (e.kind.as_str(), e.value.as_str(), e.source.as_str(), e.weight))
            .collect();
        assert_eq!(
            evidence,
            vec![
                ("email", "maya@example.com", "bio", 0.9),
                ("website", "mayarides.example", "verified-field:Site", 1.0)
            ]
        );
        assert_eq!(
            link_audit(&db).await,
            vec![(
                "resolver".to_string(),
                "identity.auto-confirm".to_string(),
                format!("identity_link:{}", l.id)
            )]
        );
        let c1 = contact_id(&db, "C1").await;
        let of_c1 = identity::contact_identities(&db, c1).await.unwrap();
        assert_eq!(
            of_c1.iter().map(|l| l.handle.as_str()).collect::<Vec<_>>(),
            vec!["mr@demo.social"]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn what_an_author_writes_only_proposes_and_a_verified_website_links() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let by_phone = Profile {
            user: "u-phone",
            handle: "p1",
            fields: vec![("Phone", "+1 (555) 010-2030")],
            ..Profile::default()
        };
        let by_site = Profile {
            user: "u-site",
            handle: "p2",
            fields: vec![(
                "Website",
                r#"<a href="https://www.mayarides.example/" rel="me">mayarides.example</a>"#,
            )],
            ..Profile::default()
        };
        let by_verified_site = Profile {
            user: "u-verified",
            handle: "p3",
            site: Some("https://www.mayarides.example/"),
            ..Profile::default()
        };
        let posts = [
            post("1", &by_phone, "hi"),
            post("2", &by_site, "hello"),
            post("3", &by_verified_site, "hey"),
        ];
        ingest(&db, &ch, &posts).await;
        let mut links = all_links(&db).await;
        links.sort_by(|a, b| a.handle.cmp(&b.handle));
        let methods: Vec<(&str, &str, &str, f64)> = links
            .iter()
            .map(|l| {
                let last = &l.evidence[l.evidence.len() - 1];
                (l.status.as_str(), l.method.as_str(), last.source.as_str(), l.confidence)
            })
            .collect();
        assert_eq!(
            methods,
            vec![
                ("proposed", "phone", "field:Phone", 0.9),
                ("proposed", "website", "field:Website", 0.9),
                ("confirmed", "website", "verified-field:Site", 1.0)
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_of_two_contacts_proposes_both_and_links_neither() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let author = Profile {
            user: "u-b",
            handle: "becker",
            bio: Some("mail: shared@example.org"),
            ..Profile::default()
        };
        let (_, report) = ingest(&db, &ch, &[post("1", &author, "hello")]).await;
        assert_eq!((report.confirmed, report.proposed), (0, 2));
        let links = all_links(&db).await;
        let contacts: Vec<i64> = links.iter().map(|l| l.contact_id).collect();
        assert_eq!(contacts, vec![contact_id(&db, "C2").await, contact_id(&db, "C3").await]);
        for l in &links {
            assert_eq!(
                (l.status.as_str(), l.method.as_str(), l.confidence),
                ("proposed", "email", 0.45)
            );
            assert!(l.evidence[0].ambiguous, "the evidence is marked ambiguous");
            assert_eq!(l.evidence[0].matches, Some(2));
            assert_eq!(l.decided_by, None);
        }
        assert!(identity::links(&db, Some("confirmed"), 10).await.unwrap().is_empty());
        let proposals = link_audit(&db).await;
        assert_eq!(proposals.len(), 2);
        assert!(
            proposals
                .iter()
                .all(|(actor, action, _)| actor == "resolver" && action == "identity.propose")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_reference_in_a_post_only_proposes() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let author = Profile {
            user: "u-l",
            handle: "ls",
            ..Profile::default()
        };
        let (ids, report) = ingest(
            &db,
            &ch,
            &[
                post("1", &author, "still waiting"),
                post("2", &author, "Where is my order LB-20931?? 3 weeks now"),
            ],
        )
        .await;
        assert_eq!(
            (report.posts, report.identities, report.confirmed, report.proposed),
            (2, 1, 0, 1)
        );
        let links = all_links(&db).await;
        assert_eq!(links.len(), 1);
        let l = &links[0];
        assert_eq!(
            (l.contact_id, l.status.as_str(), l.method.as_str(), l.confidence),
            (contact_id(&db, "C4").await, "proposed", "order-reference", 0.9)
        );
        assert_eq!(l.evidence[0].value, "LB-20931");
        assert_eq!(l.evidence[0].source, format!("post:{}", ids[1]));

        // The brand's own posts name customers' orders: they are no evidence.
        let brand = Profile {
            user: "u-brand",
            handle: "brand",
            ..Profile::default()
        };
        let mut reply = post("3", &brand, "@ls we are checking order LB-1001 for you");
        reply.direction = Direction::Outbound;
        let (_, report) = ingest(&db, &ch, &[reply]).await;
        assert_eq!((report.confirmed, report.proposed), (0, 0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handle_the_contact_lists_links() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let mastodon = channel(&db, "brand", "mastodon").await;
        let tom = Profile {
            user: "u-tom",
            handle: "Tom@demo.social",
            ..Profile::default()
        };
        ingest(&db, &mastodon, &[post("1", &tom, "hi")]).await;
        let links = all_links(&db).await;
        assert_eq!(links.len(), 1);
        assert_eq!(
            (links[0].contact_id, links[0].status.as_str(), links[0].method.as_str()),
            (contact_id(&db, "C2").await, "confirmed", "contact-handle")
        );

        // The same handle on another network is only a proposal.
        let bluesky = channel(&db, "brand-bsky", "bluesky").await;
        let tom_bsky = Profile {
            user: "did:plc:tom",
            handle: "tom.bsky.social",
            ..Profile::default()
        };
        let (_, report) = ingest(&db, &bluesky, &[post("b1", &tom_bsky, "hey")]).await;
        assert_eq!((report.confirmed, report.proposed), (0, 1));
        let proposals = identity::links(&db, Some("proposed"), 10).await.unwrap();
        assert_eq!(proposals.len(), 1);
        let p = &proposals[0];
        assert_eq!(
            (p.network.as_str(), p.contact_id, p.method.as_str(), p.confidence),
            ("bluesky", contact_id(&db, "C2").await, "same-handle", 0.5)
        );
        assert_eq!(
            p.evidence[0].source,
            format!("identity:{}", identity_id(&db, "u-tom").await)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_similar_name_is_only_proposed_with_confidence_and_evidence() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let lina = Profile {
            user: "u-lina",
            handle: "lina_sorensen@demo.social",
            name: Some("Lina Sorensen 🌻 (she/her)"),
            ..Profile::default()
        };
        let (_, report) = ingest(&db, &ch, &[post("1", &lina, "love the rack")]).await;
        assert_eq!((report.confirmed, report.proposed), (0, 1));
        let l = &all_links(&db).await[0];
        assert_eq!(
            (l.contact_id, l.status.as_str(), l.method.as_str()),
            (contact_id(&db, "C4").await, "proposed", "name")
        );
        // Display name 0.5 and a name spelled by the handle 0.35: 1 - 0.5 × 0.65.
        assert_eq!(l.confidence, 0.675);
        let evidence: Vec<(&str, &str, &str)> = l
            .evidence
            .iter()
            .map(|e| (e.kind.as_str(), e.value.as_str(), e.source.as_str()))
            .collect();
        assert_eq!(
            evidence,
            vec![
                ("name", "Lina Sorensen 🌻 (she/her)", "display_name"),
                ("name", "lina_sorensen@demo.social", "handle")
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn confirm_reject_and_unlink_change_only_the_link_and_are_audited() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let lina = Profile {
            user: "u-lina",
            handle: "ls",
            name: Some("Lina Sorensen"),
            ..Profile::default()
        };
        let tina = Profile {
            user: "u-tina",
            handle: "tb",
            name: Some("Tina Becker"),
            ..Profile::default()
        };
        ingest(&db, &ch, &[post("1", &lina, "hi"), post("2", &tina, "hello")]).await;
        let before = snapshot(&db).await;
        let proposals = identity::links(&db, Some("proposed"), 10).await.unwrap();
        assert_eq!(proposals.len(), 2);
        let (lina_link, tina_link) = if proposals[0].handle == "ls" {
            (proposals[0].id, proposals[1].id)
        } else {
            (proposals[1].id, proposals[0].id)
        };

        let confirmed = identity::confirm(&db, lina_link, "agent-ann").await.unwrap();
        assert_eq!(
            (confirmed.status.as_str(), confirmed.decided_by.as_deref()),
            ("confirmed", Some("agent-ann"))
        );
        let c4 = contact_id(&db, "C4").await;
        assert_eq!(identity::contact_identities(&db, c4).await.unwrap().len(), 1);

        let rejected = identity::reject(&db, tina_link, "agent-ann").await.unwrap();
        assert_eq!(rejected.status, "rejected");
        assert!(matches!(
            identity::reject(&db, tina_link, "agent-ann").await,
            Err(IdentityError::Transition { .. })
        ));
        assert!(matches!(
            identity::unlink(&db, tina_link, "agent-ann").await,
            Err(IdentityError::Transition { .. })
        ));
        assert!(matches!(
            identity::confirm(&db, 999_999, "agent-ann").await,
            Err(IdentityError::NoLink(999_999))
        ));

        // Unlink restores the state before: the identity has no contact again.
        let unlinked = identity::unlink(&db, lina_link, "agent-bob").await.unwrap();
        assert_eq!(
            (unlinked.status.as_str(), unlinked.decided_by.as_deref()),
            ("rejected", Some("agent-bob"))
        );
        assert!(unlinked.decided_at.is_some());
        assert!(identity::contact_identities(&db, c4).await.unwrap().is_empty());
        assert!(identity::links(&db, Some("confirmed"), 10).await.unwrap().is_empty());
        assert_eq!(snapshot(&db).await, before, "contacts and identities are untouched");

        let actions: Vec<(String, String)> = link_audit(&db)
            .await
            .into_iter()
            .skip(2) // the two proposals
            .map(|(actor, action, _)| (actor, action))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("agent-ann".to_string(), "identity.confirm".to_string()),
                ("agent-ann".to_string(), "identity.reject".to_string()),
                ("agent-bob".to_string(), "identity.unlink".to_string()),
            ]
        );
        // Both rows stay: the status is the history.
        assert_eq!(all_links(&db).await.len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_and_unlinked_links_are_not_proposed_again() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let lina = Profile {
            user: "u-lina",
            handle: "ls",
            name: Some("Lina Sorensen"),
            ..Profile::default()
        };
        ingest(&db, &ch, &[post("1", &lina, "hi"), post("2", &MAYA, "hello")]).await;
        let links = all_links(&db).await;
        assert_eq!(links.len(), 2);
        let proposal = links.iter().find(|l| l.status == "proposed").unwrap().id;
        let confirmed = links.iter().find(|l| l.status == "confirmed").unwrap().id;
        identity::reject(&db, proposal, "agent").await.unwrap();
        identity::unlink(&db, confirmed, "agent").await.unwrap();
        let audited = link_audit(&db).await.len();

        // New posts, and a changed CRM (so every profile is looked at again).
        import::contacts(&db, "id,name\nC9,Someone Else\n".as_bytes(), &|_| {})
            .await
            .unwrap();
        let (_, report) = ingest(&db, &ch, &[post("3", &lina, "again"), post("4", &MAYA, "again")]).await;
        assert_eq!(
            (report.skipped, report.confirmed, report.proposed, report.updated),
            (0, 0, 0, 0)
        );
        let after = all_links(&db).await;
        assert_eq!(after.len(), 2);
        assert!(after.iter().all(|l| l.status == "rejected"));
        assert_eq!(link_audit(&db).await.len(), audited);

        // New evidence re-opens a rejected pair as a proposal, never as a link.
        let (_, report) = ingest(&db, &ch, &[post("5", &MAYA, "call me: +1 555 010 2030")]).await;
        assert_eq!((report.confirmed, report.proposed), (0, 1));
        let reopened = identity::links(&db, Some("proposed"), 10).await.unwrap();
        assert_eq!(reopened.len(), 1);
        assert_eq!(reopened[0].id, confirmed);
        assert_eq!(reopened[0].evidence.len(), 3, "the email, the website and the phone");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resolving_twice_changes_nothing() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let lina = Profile {
            user: "u-lina",
            handle: "ls",
            name: Some("Lina Sorensen"),
            ..Profile::default()
        };
        let becker = Profile {
            user: "u-b",
            handle: "becker",
            bio: Some("shared@example.org"),
            ..Profile::default()
        };
        let (ids, first) = ingest(
            &db,
            &ch,
            &[
                post("1", &lina, "hi"),
                post("2", &MAYA, "order LB-1001"),
                post("3", &becker, "x"),
            ],
        )
        .await;
        assert_eq!((first.confirmed, first.proposed), (1, 3));
        let links = all_links(&db).await;
        let audited = link_audit(&db).await;

        let again = identity::resolve(&db, &ids).await.unwrap();
        assert_eq!(
            (again.posts, again.confirmed, again.proposed, again.updated),
            (3, 0, 0, 0)
        );
        // Unchanged profiles with nothing in the posts but Maya's order: skipped.
        assert_eq!(again.skipped, 2);
        assert_eq!(all_links(&db).await, links);
        assert_eq!(link_audit(&db).await, audited);

        // Even when everything is looked at again (the CRM changed).
        import::contacts(&db, "id,name\nC9,Someone Else\n".as_bytes(), &|_| {})
            .await
            .unwrap();
        let third = identity::resolve(&db, &ids).await.unwrap();
        assert_eq!(
            (third.skipped, third.confirmed, third.proposed, third.updated),
            (0, 0, 0, 0)
        );
        assert_eq!(all_links(&db).await, links);
        assert_eq!(link_audit(&db).await, audited);
        assert_eq!(identity::resolve(&db, &[]).await.unwrap(), ResolveReport::default());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_author_resolved_lately_is_skipped_until_its_profile_or_the_crm_changes() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let resolved = Resolved::default();
        let (_, first) = ingest_with(&db, &ch, &[post("1", &MAYA, "hello")], &resolved).await;
        assert_eq!((first.identities, first.skipped, first.confirmed), (1, 0, 1));
        // Known to `resolved`: skipped without reading what was resolved, so
        // not even a lost `identity_resolution` row makes it look again...
        sqlx::query("DELETE FROM identity_resolution")
            .execute(db.pool())
            .await
            .unwrap();
        let (_, again) = ingest_with(&db, &ch, &[post("2", &MAYA, "hello again")], &resolved).await;
        assert_eq!((again.posts, again.identities, again.skipped), (1, 1, 1));
        // ...which a process that does not know it reads (and writes back).
        let (_, fresh) = ingest(&db, &ch, &[post("3", &MAYA, "and again")]).await;
        assert_eq!((fresh.identities, fresh.skipped, fresh.confirmed), (1, 0, 0));
        let stored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM identity_resolution")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("n");
        assert_eq!(stored, 1);

        // A new profile is looked at, and so is a known one once the CRM changed.
        let renamed = Profile {
            name: Some("Maya O."),
            ..MAYA.clone()
        };
        let (_, changed) = ingest_with(&db, &ch, &[post("4", &renamed, "hi")], &resolved).await;
        assert_eq!((changed.identities, changed.skipped), (1, 0));
        let (_, same) = ingest_with(&db, &ch, &[post("5", &renamed, "hi")], &resolved).await;
        assert_eq!(same.skipped, 1);
        import::contacts(&db, "id,name\nC9,Someone Else\n".as_bytes(), &|_| {})
            .await
            .unwrap();
        let (_, after_import) = ingest_with(&db, &ch, &[post("6", &renamed, "hi")], &resolved).await;
        assert_eq!((after_import.identities, after_import.skipped), (1, 0));
        assert_eq!(all_links(&db).await.len(), 1, "still the one link");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_identity_is_not_proposed_elsewhere_by_weaker_evidence() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        // Maya's verified website, but Tom's name.
        let author = Profile {
            name: Some("Tom Becker"),
            ..MAYA
        };
        let (_, report) = ingest(&db, &ch, &[post("1", &author, "hi")]).await;
        assert_eq!((report.confirmed, report.proposed), (1, 0));
        let links = all_links(&db).await;
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].contact_id, contact_id(&db, "C1").await);

        // Nor by another contact's order it writes about: a claim, not proof.
        let (_, report) = ingest(&db, &ch, &[post("2", &author, "my order LB-20931 broke")]).await;
        assert_eq!((report.confirmed, report.proposed), (0, 0));
        assert_eq!(all_links(&db).await.len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_can_link_by_hand() {
    common::on_each_db(|db| async move {
        crm(&db).await;
        let ch = channel(&db, "brand", "mastodon").await;
        let anon = Profile {
            user: "u-anon",
            handle: "anon",
            ..Profile::default()
        };
        ingest(&db, &ch, &[post("1", &anon, "hi")]).await;
        let (i, c2) = (identity_id(&db, "u-anon").await, contact_id(&db, "C2").await);
        let l = identity::link(&db, i, c2, "agent").await.unwrap();
        assert_eq!(
            (
                l.status.as_str(),
                l.method.as_str(),
                l.confidence,
                l.decided_by.as_deref()
            ),
            ("confirmed", "manual", 1.0, Some("agent"))
        );
        assert!(matches!(
            identity::link(&db, i, c2, "agent").await,
            Err(IdentityError::Transition { .. })
        ));
        assert!(matches!(
            identity::link(&db, i, 999_999, "agent").await,
            Err(IdentityError::NoContact(999_999))
        ));
        assert!(matches!(
            identity::link(&db, 999_999, c2, "agent").await,
            Err(IdentityError::NoIdentity(999_999))
        ));
        // Unlinked and linked again by hand: the same row, confirmed again.
        identity::unlink(&db, l.id, "agent").await.unwrap();
        let again = identity::link(&db, i, c2, "agent").await.unwrap();
        assert_eq!((again.id, again.status.as_str()), (l.id, "confirmed"));
        let actions: Vec<String> = link_audit(&db).await.into_iter().map(|(_, a, _)| a).collect();
        assert_eq!(actions, vec!["identity.link", "identity.unlink", "identity.link"]);
        assert!(matches!(
            identity::links(&db, Some("maybe"), 10).await,
            Err(IdentityError::Status(_))
        ));
    })
    .await;
}
