//! The indexes an admin configured: name, URL and the key the index must be
//! signed with. Adding and removing are audited; fetching verifies the
//! signature and refuses an index older than one verified before.

use serde_json::json;

use super::fetch::{self, FetchLimits};
use super::{Index, IndexError};
use crate::plugins::signing::PublicKey;
use crate::store::indexes::{self as stored, IndexRow};
use crate::store::{Db, audit, now_ms};

/// A configured index, its key parsed.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub url: url::Url,
    pub key: PublicKey,
    pub added_at: i64,
    pub added_by: String,
    /// `generated_at` of the newest index verified so far.
    pub generated_at: Option<i64>,
}

fn source(row: IndexRow) -> Result<Source, IndexError> {
    Ok(Source {
        url: fetch::parse_url(&row.url)?,
        key: PublicKey::parse(&row.public_key, &format!("the key of index `{}`", row.name))?,
        name: row.name,
        added_at: row.added_at,
        added_by: row.added_by,
        generated_at: row.generated_at,
    })
}

/// Configures index `name` at `url`, whose index files `key` must sign.
pub async fn add(db: &Db, name: &str, url: &str, key: &PublicKey, actor: &str) -> Result<Source, IndexError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(IndexError::Invalid(format!(
            "index name `{name}`: use letters, digits, `-` and `_`"
        )));
    }
    let parsed = fetch::parse_url(url)?;
    if stored::get(db, name).await?.is_some() {
        return Err(IndexError::IndexExists(name.to_string()));
    }
    let row = IndexRow {
        name: name.to_string(),
        url: parsed.to_string(),
        key_id: key.id(),
        public_key: key.to_text(),
        added_at: now_ms(),
        added_by: actor.to_string(),
        generated_at: None,
    };
    let mut tx = db.begin().await?;
    stored::insert(&mut tx, &row).await?;
    let details = json!({"url": row.url, "key_id": row.key_id, "key_name": key.name});
    audit(&mut *tx, actor, "plugin.index.add", &format!("index:{name}"), &details).await?;
    tx.commit().await?;
    source(row)
}

/// Every configured index, by name.
pub async fn list(db: &Db) -> Result<Vec<Source>, IndexError> {
    stored::list(db).await?.into_iter().map(source).collect()
}

/// The configured index `name`.
pub async fn get(db: &Db, name: &str) -> Result<Source, IndexError> {
    let row = stored::get(db, name)
        .await?
        .ok_or_else(|| IndexError::UnknownIndex(name.to_string()))?;
    source(row)
}

/// Stops using index `name`; plugins installed from it stay.
pub async fn remove(db: &Db, name: &str, actor: &str) -> Result<Source, IndexError> {
    let found = get(db, name).await?;
    let mut tx = db.begin().await?;
    stored::delete(&mut tx, name).await?;
    let details = json!({"url": found.url.as_str(), "key_id": found.key.id()});
    audit(
        &mut *tx,
        actor,
        "plugin.index.remove",
        &format!("index:{name}"),
        &details,
    )
    .await?;
    tx.commit().await?;
    Ok(found)
}

impl Source {
    /// Downloads the index and verifies it: its signature with the configured
    /// key before anything in it is read, then that it is not older than the
    /// newest index of this source verified before (which it then records).
    pub async fn fetch(&self, db: &Db, limits: &FetchLimits) -> Result<Index, IndexError> {
        let bytes = fetch::get(&self.url, limits.index_bytes, limits.timeout).await?;
        let index = Index::open(&format!("index `{}`", self.name), &bytes, &self.key)?;
        if !stored::advance_generated_at(db, &self.name, index.generated_at).await? {
            let seen = stored::get(db, &self.name)
                .await?
                .and_then(|r| r.generated_at)
                .unwrap_or_default();
            return Err(IndexError::Replayed {
                index: format!("index `{}`", self.name),
                generated_at: index.generated_at,
                seen,
            });
        }
        Ok(index)
    }
}
