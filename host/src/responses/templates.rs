//! Stored reply templates: checked when saved (known variables, a sendable
//! length), replaced by saving again under the same name.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::ResponseError;
use super::template::{Template, Variable};
use crate::replies::check_text;
use crate::store::{Db, audit, now_ms};

/// A template as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoredTemplate {
    pub name: String,
    pub body: String,
    #[schema(value_type = Vec<String>)]
    pub variables: Vec<Variable>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Saves template `name` (a new one, or a new body for an existing one).
pub async fn save_template(db: &Db, name: &str, body: &str, actor: &str) -> Result<StoredTemplate, ResponseError> {
    let name = name.trim();
    let valid_name = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_name {
        return Err(ResponseError::TemplateName(name.to_string()));
    }
    let body = check_text(body)?;
    let parsed = Template::parse(body)?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO reply_templates (name, body, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(body)
    .bind(actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let variables: Vec<&str> = parsed.variables().into_iter().map(Variable::name).collect();
    audit(
        &mut *tx,
        actor,
        "template.save",
        &format!("template:{name}"),
        &json!({"variables": variables}),
    )
    .await?;
    tx.commit().await?;
    template(db, name).await
}

pub async fn template(db: &Db, name: &str) -> Result<StoredTemplate, ResponseError> {
    let row = sqlx::query("SELECT name, body, created_by, created_at, updated_at FROM reply_templates WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| ResponseError::NoTemplate(name.to_string()))?;
    stored(&row)
}

/// Every template, by name.
pub async fn templates(db: &Db) -> Result<Vec<StoredTemplate>, ResponseError> {
    let rows = sqlx::query("SELECT name, body, created_by, created_at, updated_at FROM reply_templates ORDER BY name")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(stored).collect()
}

/// Removes template `name`; responses made from it keep their texts.
pub async fn remove_template(db: &Db, name: &str, actor: &str) -> Result<(), ResponseError> {
    let mut tx = db.begin().await?;
    let removed = sqlx::query("DELETE FROM reply_templates WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(ResponseError::NoTemplate(name.to_string()));
    }
    audit(
        &mut *tx,
        actor,
        "template.remove",
        &format!("template:{name}"),
        &json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn stored(row: &sqlx::any::AnyRow) -> Result<StoredTemplate, ResponseError> {
    let body: String = row.try_get("body")?;
    Ok(StoredTemplate {
        name: row.try_get("name")?,
        // Checked when saved; a body that no longer parses (a variable retired
        // since) lists no variables and is refused when used.
        variables: Template::parse(&body).map(|t| t.variables()).unwrap_or_default(),
        body,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}
