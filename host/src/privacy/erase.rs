//! Erasure: every trace of a subject removed or anonymised, step by step in
//! bounded transactions. The plan (the subject's ids and identifiers) is
//! stored with the erasure's receipt and each finished step is recorded, so
//! a crash resumes at the step it stopped in; every step can run again
//! without harm. The plan is emptied when the erasure ends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::holdings::{self, EXEMPT_TABLES, name_field};
use super::needles::{contains, redact};
use super::{PLACEHOLDER, PrivacyError, Subject};
use crate::events::{Event, EventType, Outbox};
use crate::ingest::{Ingest, do_not_track};
use crate::secrets::SecretBox;
use crate::store::catalogue;
use crate::store::tombstones::{Why, tombstone};
use crate::store::{self, Db, erasures, sources, subjects};

/// Posts made tombstones per transaction.
const POST_BATCH: i64 = 500;
/// Rows redacted per transaction by the sweep.
const SWEEP_BATCH: usize = 200;

/// What the admin asked for besides erasing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Keep the subject's transactions, anonymised (for accounting): moved to
    /// an anonymous contact, order references cleared.
    #[serde(default)]
    pub keep_transactions: bool,
    /// Never store the subject's posts again: keyed hashes of its handles
    /// and network user ids go on the do-not-track list.
    #[serde(default)]
    pub do_not_track: bool,
}

/// What a running erasure works from (stored, emptied at the end).
#[derive(Debug, Serialize, Deserialize)]
struct Plan {
    subject: Subject,
    options: Options,
    /// Do-not-track hashes: the subject's network users when asked for, and
    /// its records in sources always.
    hashes: Vec<String>,
    /// (network, external user id) of each identity: plugins are asked to
    /// forget them after the identities are gone.
    #[serde(default)]
    users: Vec<(String, String)>,
}

/// Rows changed per kind.
type Counts = BTreeMap<String, u64>;

/// The steps, in order (a receipt's `step` counts them). Each is idempotent.
pub const STEPS: [&str; 9] = [
    "posts",
    "addressed",
    "events",
    "audit",
    "links",
    "crm",
    "identities",
    "plugin_data",
    "mentions",
];

/// Erases `subject`: [`start`], then runs it to the end. Returns the receipt.
pub async fn erase(
    db: &Db,
    ingest: Option<&Ingest>,
    secrets: &SecretBox,
    subject: &Subject,
    options: Options,
    actor: &str,
) -> Result<String, PrivacyError> {
    let receipt = start(db, secrets, subject, options, actor).await?;
    resume(db, ingest).await?;
    Ok(receipt)
}

/// Stores the erasure of `subject` (its plan and receipt, audited) without
/// running it: [`resume`] runs it (the API answers with the receipt first).
pub async fn start(
    db: &Db,
    secrets: &SecretBox,
    subject: &Subject,
    options: Options,
    actor: &str,
) -> Result<String, PrivacyError> {
    let plan = plan(db, Some(secrets), subject, options).await?;
    let mut tx = db.begin().await?;
    let (_, receipt) = create(&mut tx, &plan, actor).await?;
    tx.commit().await?;
    Ok(receipt)
}

/// The erasure of `subject` with no options (a deletion request a network
/// forwarded), planned: [`Planned::start_in`] stores it.
pub(super) struct Planned(Plan);

impl Planned {
    pub(super) async fn of(db: &Db, subject: &Subject) -> Result<Planned, PrivacyError> {
        Ok(Planned(plan(db, None, subject, Options::default()).await?))
    }

    /// Stores the erasure in the caller's transaction, for [`resume`] to
    /// run. Returns its id.
    pub(super) async fn start_in(&self, conn: &mut sqlx::AnyConnection, actor: &str) -> Result<i64, PrivacyError> {
        Ok(create(conn, &self.0, actor).await?.0)
    }
}

/// Stores `plan` with a new receipt: (its id, the receipt).
async fn create(conn: &mut sqlx::AnyConnection, plan: &Plan, actor: &str) -> Result<(i64, String), PrivacyError> {
    let receipt = receipt();
    let id = erasures::create(conn, &receipt, actor, &serde_json::to_string(plan)?).await?;
    Ok((id, receipt))
}

/// What the erasure of `subject` works from. `secrets` makes the
/// do-not-track hashes, when `options` ask for them.
async fn plan(db: &Db, secrets: Option<&SecretBox>, subject: &Subject, options: Options) -> Result<Plan, PrivacyError> {
    let users = users(db, subject).await?;
    let mut hashes: Vec<String> = match secrets.filter(|_| options.do_not_track) {
        Some(secrets) => users
            .iter()
            .flat_map(|(network, id, handle)| {
                [
                    do_not_track::handle_hash(secrets, network, handle),
                    do_not_track::user_hash(secrets, network, id),
                ]
            })
            .collect(),
        None => Vec::new(),
    };
    // Whatever was asked, a source never brings an erased contact back.
    if let Some(secrets) = secrets {
        for (account, external_id, emails) in sources::keys_of(db, &subject.ids.contacts).await? {
            hashes.push(do_not_track::source_contact_hash(secrets, &account, &external_id));
            let emails: Vec<String> = serde_json::from_str(&emails).unwrap_or_default();
            hashes.extend(emails.iter().map(|e| do_not_track::email_hash(secrets, e)));
        }
    }
    Ok(Plan {
        subject: subject.clone(),
        options,
        hashes,
        users: users.into_iter().map(|(network, id, _)| (network, id)).collect(),
    })
}

/// Starts the deletion requests not started yet, then runs every erasure
/// not finished (just started, or stopped by a crash) to its end. Returns
/// their receipts. Two processes may run one erasure at once: every step is
/// idempotent. With `ingest`, channel plugins that export `upkeep` are asked
/// to forget the subject's users too.
pub async fn resume(db: &Db, ingest: Option<&Ingest>) -> Result<Vec<String>, PrivacyError> {
    super::deletions::start_received(db).await?;
    let mut done = Vec::new();
    for e in erasures::running(db).await? {
        let plan: Plan = serde_json::from_str(&e.plan)?;
        let counts: Counts = serde_json::from_value(e.counts.clone()).unwrap_or_default();
        run(db, ingest, e.id, &e.receipt, &plan, e.step, counts, &e.requested_by).await?;
        done.push(e.receipt);
    }
    Ok(done)
}

/// A receipt id: random, says nothing about the subject.
fn receipt() -> String {
    use chacha20poly1305::aead::rand_core::RngCore;
    let mut bytes = [0u8; 12];
    chacha20poly1305::aead::OsRng.fill_bytes(&mut bytes);
    format!("er_{}", hex::encode(bytes))
}

/// (network, external user id, handle) of the subject's identities.
async fn users(db: &Db, subject: &Subject) -> Result<Vec<(String, String, String)>, PrivacyError> {
    let rows = subjects::rows_where(
        db,
        "identities",
        &format!("id IN {}", subjects::id_list(&subject.ids.identities)),
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let field = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            (field("network"), field("external_user_id"), field("handle"))
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    db: &Db,
    ingest: Option<&Ingest>,
    id: i64,
    receipt: &str,
    plan: &Plan,
    from: i64,
    mut counts: Counts,
    actor: &str,
) -> Result<(), PrivacyError> {
    let s = &plan.subject;
    for (step, name) in STEPS.iter().enumerate().skip(from.max(0) as usize) {
        let changed = match *name {
            "posts" => erase_posts(db, s).await?,
            "addressed" => in_one(db, &subjects::redact_addressed(&s.ids, PLACEHOLDER)).await?,
            "events" => {
                let condition = subjects::events_about(db.backend(), &s.ids);
                in_one(db, &[format!("DELETE FROM event_outbox WHERE {condition}")]).await?
            }
            "audit" => in_one(db, &subjects::redact_audit(&s.ids, receipt)).await?,
            "links" => in_one(db, &subjects::delete_links(&s.ids)).await?,
            "crm" => crm(db, s, receipt, plan.options.keep_transactions).await?,
            "identities" => identities(db, s, receipt).await?,
            "plugin_data" => plugin_data(db, ingest, s, &plan.users).await?,
            _ => mentions(db, s).await?,
        };
        *counts.entry((*name).to_string()).or_default() += changed;
        let mut tx = db.begin().await?;
        erasures::advance(&mut tx, id, step as i64 + 1, &serde_json::to_string(&counts)?).await?;
        tx.commit().await?;
    }
    let counts_json = serde_json::to_string(&counts)?;
    let outbox = Outbox::of(db).await?;
    let mut tx = db.begin().await?;
    if !plan.hashes.is_empty() {
        erasures::do_not_track(&mut tx, id, &plan.hashes).await?;
        // Every node reads the list again.
        erasures::bump_epoch(&mut tx).await?;
    }
    erasures::finish(&mut tx, id, &counts_json).await?;
    store::audit(
        &mut *tx,
        actor,
        "subject.erased",
        &format!("erasure:{receipt}"),
        &serde_json::json!({"receipt": receipt, "counts": counts, "do_not_track": plan.options.do_not_track}),
    )
    .await?;
    if outbox.wants(EventType::SubjectErased) {
        let event = Event::new(EventType::SubjectErased, serde_json::json!({"receipt": receipt}));
        outbox.write(&mut tx, std::iter::once(event)).await?;
    }
    tx.commit().await?;
    // Recent alerts judged again without the erased posts.
    if let Err(e) = crate::insights::spikes::detect(db, store::now_ms()).await {
        tracing::warn!(error = %e, "alerts after an erasure: the next recompute refreshes them");
    }
    Ok(())
}

/// Runs `statements` in one transaction.
async fn in_one(db: &Db, statements: &[String]) -> Result<u64, PrivacyError> {
    let mut tx = db.begin().await?;
    let changed = subjects::execute_all(&mut tx, statements).await?;
    tx.commit().await?;
    Ok(changed)
}

/// The subject's posts become tombstones, [`POST_BATCH`] a transaction.
async fn erase_posts(db: &Db, s: &Subject) -> Result<u64, PrivacyError> {
    let mut changed = 0;
    loop {
        let ids = subjects::posts_to_erase(db, &s.ids, POST_BATCH).await?;
        if ids.is_empty() {
            return Ok(changed);
        }
        let mut tx = db.begin().await?;
        changed += tombstone(&mut tx, db.backend(), &ids, Why::Erased).await?.posts;
        tx.commit().await?;
    }
}

/// Transactions (deleted or kept anonymous) and then the contacts.
async fn crm(db: &Db, s: &Subject, receipt: &str, keep: bool) -> Result<u64, PrivacyError> {
    let mut tx = db.begin().await?;
    let anonymous = if keep && !s.ids.contacts.is_empty() {
        Some(subjects::anonymous_contact(&mut tx, &format!("erased:{receipt}")).await?)
    } else {
        None
    };
    let mut changed = subjects::execute_all(&mut tx, &subjects::transactions(&s.ids, anonymous)).await?;
    // Scores of contacts are derived from what goes; links again, in case
    // ingest proposed one since the links step.
    changed += subjects::execute_all(&mut tx, &subjects::delete_links(&s.ids)).await?;
    changed += subjects::execute_all(&mut tx, &subjects::delete_contacts(&s.ids)).await?;
    tx.commit().await?;
    Ok(changed)
}

/// The identities go, in one transaction with whatever ingest stored for
/// them since the first steps, and the erasure epoch grows so that no node
/// trusts what it remembers about them.
async fn identities(db: &Db, s: &Subject, receipt: &str) -> Result<u64, PrivacyError> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "SELECT id FROM posts WHERE identity_id IN {} AND (tombstone IS NULL OR text <> '' OR raw <> '{{}}')",
        subjects::id_list(&s.ids.identities)
    );
    let late: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
    let mut changed = tombstone(&mut tx, db.backend(), &late, Why::Erased).await?.posts;
    changed += subjects::execute_all(&mut tx, &subjects::delete_links(&s.ids)).await?;
    changed += subjects::delete_identities(&mut tx, &s.ids, receipt).await?;
    erasures::bump_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Plugin key-value entries about the subject removed: each plugin that
/// exports `upkeep` is asked to forget the subject's users on its network,
/// then the host removes, whatever the plugin did, the entries whose key or
/// value names an identifier of the subject or one of its network user ids.
async fn plugin_data(
    db: &Db,
    ingest: Option<&Ingest>,
    s: &Subject,
    users: &[(String, String)],
) -> Result<u64, PrivacyError> {
    let mut removed = 0;
    for (id, name, network) in subjects::channel_accounts(db).await? {
        let ids: Vec<&str> = users
            .iter()
            .filter(|(n, _)| *n == network)
            .map(|(_, u)| u.as_str())
            .collect();
        if let Some(ingest) = ingest {
            for user in &ids {
                match ingest.forget(&name, user).await {
                    Ok(n) => removed += n.unwrap_or(0) as u64,
                    // The host's own removal below still runs.
                    Err(e) => tracing::warn!(channel = %name, error = %e, "a plugin could not forget an erased user"),
                }
            }
        }
        let mut needles = s.needles.matching(false);
        needles.extend(ids);
        // Ingest may write the store meanwhile: read, filter, compare-and-set.
        for _attempt in 0..10 {
            let Some(kv) = subjects::channel_kv(db, id).await? else {
                break;
            };
            let mut map: BTreeMap<String, String> = serde_json::from_str(&kv).unwrap_or_default();
            let gone: Vec<String> = holdings::decode(&kv)
                .into_iter()
                .filter(|(k, v)| contains(k, &needles) || contains(v, &needles))
                .map(|(k, _)| k)
                .collect();
            if gone.is_empty() {
                break;
            }
            for k in &gone {
                map.remove(k);
            }
            if subjects::replace_kv(db, id, &kv, &serde_json::to_string(&map)?).await? {
                removed += gone.len() as u64;
                break;
            }
        }
    }
    Ok(removed)
}

/// Every other row of every table that mentions the subject's identifiers:
/// the identifiers replaced by [`PLACEHOLDER`] (another person's post that
/// names them, a webhook payload, a note), [`SWEEP_BATCH`] rows a transaction.
async fn mentions(db: &Db, s: &Subject) -> Result<u64, PrivacyError> {
    let mut changed = 0;
    for table in catalogue::tables(db).await? {
        if EXEMPT_TABLES.contains(&table.name.as_str()) || table.key.is_empty() {
            continue;
        }
        let rows = holdings::mentioning(db, &table, s).await?;
        for batch in rows.chunks(SWEEP_BATCH) {
            let mut tx = db.begin().await?;
            for row in batch {
                let values: Vec<(String, String)> = table
                    .text_columns
                    .iter()
                    .filter_map(|c| {
                        let text = row.get(c)?.as_str()?;
                        let needles = s.needles.matching(name_field(&table.name, c));
                        redact(text, &needles).map(|t| (c.clone(), t))
                    })
                    .collect();
                changed += subjects::update_row(&mut tx, db.backend(), &table, row, &values).await?;
            }
            tx.commit().await?;
        }
    }
    Ok(changed)
}
