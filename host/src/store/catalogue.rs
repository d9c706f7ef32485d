//! The database's own catalogue: every table, its text columns and its key.
//! Erasure sweeps and exports read it, so a table added later is covered
//! without being named anywhere.

use sqlx::{AssertSqlSafe, Row};

use super::{Backend, Db};

/// A table with the columns that hold text and the columns of its primary key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub text_columns: Vec<String>,
    /// Empty when the table has no primary key (none of ours: a test checks).
    pub key: Vec<String>,
}

/// Every table of the application (not the migrations' bookkeeping), by name.
pub async fn tables(db: &Db) -> Result<Vec<Table>, sqlx::Error> {
    let mut out = Vec::new();
    match db.backend() {
        Backend::Sqlite => {
            let names = sqlx::query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
                 AND name <> '_sqlx_migrations' ORDER BY name",
            )
            .fetch_all(db.pool())
            .await?;
            for row in names {
                let name: String = row.try_get("name")?;
                // A name from the catalogue, quoted: never input.
                let columns = sqlx::query(AssertSqlSafe(format!(
                    "SELECT name, type, pk FROM pragma_table_info('{}') ORDER BY cid",
                    name.replace('\'', "''")
                )))
                .fetch_all(db.pool())
                .await?;
                let mut table = Table {
                    name,
                    text_columns: Vec::new(),
                    key: Vec::new(),
                };
                let mut key = Vec::new();
                for c in columns {
                    let column: String = c.try_get("name")?;
                    let kind: String = c.try_get("type")?;
                    let pk: i64 = c.try_get("pk")?;
                    if pk > 0 {
                        key.push((pk, column.clone()));
                    }
                    if kind.eq_ignore_ascii_case("TEXT") {
                        table.text_columns.push(column);
                    }
                }
                key.sort();
                table.key = key.into_iter().map(|(_, c)| c).collect();
                out.push(table);
            }
        }
        Backend::Postgres => {
            let names = sqlx::query(
                "SELECT table_name::TEXT AS name FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 AND table_name <> '_sqlx_migrations' ORDER BY table_name",
            )
            .fetch_all(db.pool())
            .await?;
            for row in names {
                let name: String = row.try_get("name")?;
                let columns = sqlx::query(
                    "SELECT column_name::TEXT AS name FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 \
                     AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb') \
                     ORDER BY ordinal_position",
                )
                .bind(&name)
                .fetch_all(db.pool())
                .await?;
                let key = sqlx::query(
                    "SELECT k.column_name::TEXT AS name FROM information_schema.table_constraints c \
                     JOIN information_schema.key_column_usage k \
                       ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema \
                     WHERE c.table_schema = current_schema() AND c.table_name = $1 \
                       AND c.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position",
                )
                .bind(&name)
                .fetch_all(db.pool())
                .await?;
                out.push(Table {
                    name,
                    text_columns: columns.iter().map(|r| r.try_get("name")).collect::<Result<_, _>>()?,
                    key: key.iter().map(|r| r.try_get("name")).collect::<Result<_, _>>()?,
                });
            }
        }
    }
    Ok(out)
}
