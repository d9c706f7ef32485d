//! Stored reply templates: checked when saved (known variables, a sendable
//! length), replaced by saving again under the same name.

use serde::Serialize;
use serde_json::json;

use super::ResponseError;
use super::template::{Template, Variable};
use crate::replies::check_text;
use crate::store::templates::TemplateRow;
use crate::store::{self, Db, audit};

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
    let valid_name = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_name {
        return Err(ResponseError::TemplateName(name.to_string()));
    }
    let body = check_text(body)?;
    let parsed = Template::parse(body)?;
    let mut tx = db.begin().await?;
    store::templates::save(&mut tx, name, body, actor).await?;
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
    store::templates::get(db, name)
        .await?
        .map(stored)
        .ok_or_else(|| ResponseError::NoTemplate(name.to_string()))
}

/// Every template, by name.
pub async fn templates(db: &Db) -> Result<Vec<StoredTemplate>, ResponseError> {
    Ok(store::templates::all(db).await?.into_iter().map(stored).collect())
}

/// Removes template `name`; responses made from it keep their texts.
pub async fn remove_template(db: &Db, name: &str, actor: &str) -> Result<(), ResponseError> {
    let mut tx = db.begin().await?;
    if !store::templates::remove(&mut tx, name).await? {
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

fn stored(row: TemplateRow) -> StoredTemplate {
    StoredTemplate {
        // Checked when saved; a body that no longer parses (a variable retired
        // since) lists no variables and is refused when used.
        variables: Template::parse(&row.body).map(|t| t.variables()).unwrap_or_default(),
        name: row.name,
        body: row.body,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
