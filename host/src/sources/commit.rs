//! Committing one page of a source: its contacts, transactions with their
//! product lines, and deletions, with the cursor after them and the
//! plugin's key-value writes, all in ONE transaction (a crash pulls the page
//! again from the last committed cursor; records are upserted on (account,
//! external id), so nothing is lost or doubled). Contacts an erasure put on
//! the do-not-track list are dropped first; a contact whose email another
//! contact has is proposed as the same person, never merged.

use std::collections::{BTreeMap, HashSet};

use crate::crm::currency;
use crate::ingest::do_not_track;
use crate::runtime::KvChanges;
use crate::runtime::types::{RecordKind, SourceContact, SourcePage, SourceTransaction, TransactionKind};
use crate::secrets::SecretBox;
use crate::store::codec::{apply_kv, rfc3339_ms};
use crate::store::contacts::{ContactRow, TransactionRow};
use crate::store::sources::{self, LineRow, SourceContactRow, crm_external_id};
use crate::store::{Db, erasures, now_ms, posts};

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("{what} `{external_id}`: {why}; nothing from this page was stored")]
    Invalid {
        what: &'static str,
        external_id: String,
        why: String,
    },
    #[error("no source account with id {0}")]
    NoAccount(i64),
    #[error("the lease on source {0} was lost to another node; this page was not stored")]
    LeaseLost(i64),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The source account a page belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRef {
    pub id: i64,
    /// The account's name: the prefix of its records' CRM external ids.
    pub name: String,
    /// The lease holder the pull ran under; the commit fails with
    /// [`CommitError::LeaseLost`] if another node holds the account by then.
    pub lease_owner: Option<String>,
}

/// What a commit stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    pub new_contacts: usize,
    pub updated_contacts: usize,
    pub new_transactions: usize,
    pub updated_transactions: usize,
    /// Transactions of a contact this account does not hold (never sent, or erased).
    pub skipped_transactions: usize,
    /// Contacts dropped because an erasure listed them.
    pub suppressed: usize,
    /// Contacts marked inactive or to erase, and transactions deleted.
    pub deleted: usize,
    /// New proposals that two contacts are one person.
    pub proposals: usize,
}

impl Committed {
    /// Adds what `other` stored (a sync sums its pages).
    pub(super) fn add(&mut self, other: &Committed) {
        self.new_contacts += other.new_contacts;
        self.updated_contacts += other.updated_contacts;
        self.new_transactions += other.new_transactions;
        self.updated_transactions += other.updated_transactions;
        self.skipped_transactions += other.skipped_transactions;
        self.suppressed += other.suppressed;
        self.deleted += other.deleted;
        self.proposals += other.proposals;
    }
}

/// The CRM kind a source's transaction kind is stored as (docs/sources.md):
/// the kinds the scores read (`purchase` and `subscription` are orders,
/// `refund` is money returned).
pub fn crm_kind(kind: TransactionKind) -> &'static str {
    match kind {
        TransactionKind::Order | TransactionKind::Invoice => "purchase",
        TransactionKind::SubscriptionPayment => "subscription",
        TransactionKind::Refund => "refund",
    }
}

/// Emails trimmed and lowercased, empty ones dropped, each once, in order.
fn emails(contact: &SourceContact) -> Vec<String> {
    let mut seen = HashSet::new();
    contact
        .emails
        .iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty() && seen.insert(e.clone()))
        .collect()
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn contact_row<'a>(account: &str, c: &'a SourceContact, emails: &[String]) -> SourceContactRow<'a> {
    let handles: BTreeMap<&str, &str> = c
        .handles
        .iter()
        .map(|h| (h.network.as_str(), h.handle.trim_start_matches('@')))
        .collect();
    let custom: BTreeMap<&str, &str> = c
        .custom_fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_str()))
        .collect();
    SourceContactRow {
        external_id: &c.external_id,
        contact: ContactRow {
            external_id: crm_external_id(account, &c.external_id),
            name: c.name.clone(),
            email: emails.first().cloned(),
            phone: c.phones.first().cloned(),
            website: c.websites.first().cloned(),
            company: c.company.clone(),
            handles: json(&handles),
        },
        emails: json(&emails),
        phones: json(&c.phones),
        websites: json(&c.websites),
        custom_fields: json(&custom),
    }
}

/// A decimal amount in the currency's major unit (`19.99`, `-5`).
fn amount(what: &'static str, external_id: &str, text: &str) -> Result<f64, CommitError> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let decimal = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
        && !digits.starts_with('.')
        && !digits.ends_with('.');
    match t.parse::<f64>() {
        Ok(v) if decimal && v.is_finite() => Ok(v),
        _ => Err(CommitError::Invalid {
            what,
            external_id: external_id.to_string(),
            why: format!("amount `{text}` is not a decimal number"),
        }),
    }
}

/// A transaction checked and mapped (its contact id is set in the commit).
struct Mapped<'a> {
    source: &'a SourceTransaction,
    row: TransactionRow,
    lines: Vec<LineRow<'a>>,
}

fn map_transaction<'a>(account: &str, t: &'a SourceTransaction) -> Result<Mapped<'a>, CommitError> {
    let invalid = |why: String| CommitError::Invalid {
        what: "transaction",
        external_id: t.external_id.clone(),
        why,
    };
    let occurred_at = rfc3339_ms(&t.occurred_at)
        .ok_or_else(|| invalid(format!("occurred-at `{}` is not an RFC 3339 time", t.occurred_at)))?;
    let currency = currency::code(&t.currency).map_err(|e| invalid(format!("currency {e}")))?;
    let lines = t
        .lines
        .iter()
        .map(|l| {
            Ok(LineRow {
                external_id: l.external_id.as_deref(),
                sku: l.sku.as_deref(),
                name: &l.name,
                quantity: i64::from(l.quantity),
                amount: amount("transaction", &t.external_id, &l.amount)?,
            })
        })
        .collect::<Result<Vec<_>, CommitError>>()?;
    // The product column keeps the names, for what reads one column.
    let names: Vec<&str> = t.lines.iter().map(|l| l.name.as_str()).collect();
    Ok(Mapped {
        source: t,
        row: TransactionRow {
            external_id: crm_external_id(account, &t.external_id),
            contact_id: 0,
            kind: crm_kind(t.kind).to_string(),
            amount: amount("transaction", &t.external_id, &t.amount)?,
            currency,
            occurred_at,
            reference: t.reference.clone(),
            product: (!names.is_empty()).then(|| names.join(", ")),
        },
        lines,
    })
}

/// The external ids of `contacts` that an erasure put on the do-not-track
/// list (by this account's key or by any of their emails).
async fn suppressed(
    db: &Db,
    secrets: &SecretBox,
    account: &str,
    contacts: &[(&SourceContact, Vec<String>)],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut by_hash = Vec::new();
    for (c, emails) in contacts {
        by_hash.push((do_not_track::source_contact_hash(secrets, account, &c.external_id), c));
        by_hash.extend(emails.iter().map(|e| (do_not_track::email_hash(secrets, e), c)));
    }
    let hashes: Vec<String> = by_hash.iter().map(|(h, _)| h.clone()).collect();
    let listed: HashSet<String> = erasures::tracked_not(db, &hashes).await?.into_iter().collect();
    Ok(by_hash
        .into_iter()
        .filter(|(h, _)| listed.contains(h))
        .map(|(_, c)| c.external_id.clone())
        .collect())
}

/// Writes `page` of `account`, its cursor and `kv_changes`, all or nothing.
pub async fn commit_page(
    db: &Db,
    secrets: &SecretBox,
    account: &SourceRef,
    page: &SourcePage,
    kv_changes: &KvChanges,
) -> Result<Committed, CommitError> {
    // Checked and mapped before anything is written.
    let contacts: Vec<(&SourceContact, Vec<String>)> = page.contacts.iter().map(|c| (c, emails(c))).collect();
    let transactions = page
        .transactions
        .iter()
        .map(|t| map_transaction(&account.name, t))
        .collect::<Result<Vec<_>, _>>()?;
    let dropped = suppressed(db, secrets, &account.name, &contacts).await?;
    let now = now_ms();
    let mut done = Committed::default();

    let mut tx = db.begin().await?;
    let locked = posts::lock_channel(&mut tx, db.backend(), account.id)
        .await?
        .ok_or(CommitError::NoAccount(account.id))?;
    if let Some(owner) = &account.lease_owner
        && locked.lease_owner.as_ref() != Some(owner)
    {
        return Err(CommitError::LeaseLost(account.id));
    }
    let erase = sources::on_delete(&mut tx, account.id).await?.as_deref() == Some("erase");
    for (c, emails) in &contacts {
        if dropped.contains(&c.external_id) {
            done.suppressed += 1;
            continue;
        }
        let row = contact_row(&account.name, c, emails);
        let (id, new) = sources::upsert_contact(&mut tx, account.id, &row, now).await?;
        if new {
            done.new_contacts += 1;
        } else {
            done.updated_contacts += 1;
        }
        for other in sources::same_email(&mut tx, id, emails).await? {
            if sources::propose_match(&mut tx, id, other, "email", now).await? {
                done.proposals += 1;
            }
        }
    }
    for mut t in transactions {
        let contact = sources::contact_id(&mut tx, account.id, &t.source.contact_external_id).await?;
        let Some(contact_id) = contact else {
            done.skipped_transactions += 1;
            continue;
        };
        t.row.contact_id = contact_id;
        let status = t.source.status.as_deref();
        if sources::upsert_transaction(
            &mut tx,
            account.id,
            &t.source.external_id,
            &t.row,
            status,
            &t.lines,
            now,
        )
        .await?
        {
            done.new_transactions += 1;
        } else {
            done.updated_transactions += 1;
        }
    }
    for d in &page.deletions {
        let gone = match d.kind {
            RecordKind::Contact => sources::contact_deleted(&mut tx, account.id, &d.external_id, erase, now)
                .await?
                .is_some(),
            RecordKind::Transaction => sources::transaction_deleted(&mut tx, account.id, &d.external_id).await?,
        };
        done.deleted += usize::from(gone);
    }
    posts::update_channel(
        &mut tx,
        account.id,
        Some(&page.cursor),
        &apply_kv(&locked.kv, kv_changes),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_plain_decimals() {
        let ok = |t: &str| amount("t", "1", t).ok();
        assert_eq!(ok("19.99"), Some(19.99));
        assert_eq!(ok("-5"), Some(-5.0));
        assert_eq!(ok(" 1000 "), Some(1000.0));
        for bad in ["", "1e3", "NaN", "inf", ".5", "5.", "1.2.3", "12,50", "-"] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_kind_maps_to_a_kind_the_scores_read() {
        use crate::insights::churn::{ORDER_KINDS, REFUND_KINDS};
        for kind in [
            TransactionKind::Order,
            TransactionKind::Refund,
            TransactionKind::SubscriptionPayment,
            TransactionKind::Invoice,
        ] {
            let name = crm_kind(kind);
            assert!(ORDER_KINDS.contains(&name) || REFUND_KINDS.contains(&name), "{name}");
        }
    }
}
