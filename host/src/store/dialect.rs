//! The SQL dialect: which backend a database is, and the pieces of SQL that
//! differ between SQLite and PostgreSQL or that statements of both share
//! (parameter lists, JSON expansion, literals, upserts that skip unchanged rows).

use sqlx::AssertSqlSafe;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sql` (written with `$1, $2, ...`) in this backend's fastest parameter
    /// style. SQLite finds the number of a named parameter (`$N`) by a linear
    /// search, so binding a statement of n named values costs O(n²); when the
    /// values are numbered in order of appearance, plain `?` binds the same
    /// values in O(n).
    pub fn sql(self, sql: String) -> AssertSqlSafe<String> {
        AssertSqlSafe(match self {
            Backend::Sqlite => positional(sql),
            Backend::Postgres => sql,
        })
    }
}

/// `($1, $2), ($3, $4)`: placeholders for a multi-row statement of `rows`
/// rows of `columns` values each (one row of n values doubles as an `IN` list).
pub fn placeholders(rows: usize, columns: usize) -> String {
    use std::fmt::Write as _;
    // One buffer: statements of thousands of values are built per page.
    let mut out = String::with_capacity(rows * columns * 6);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 1..=columns {
            let sep = if c == 1 { "" } else { ", " };
            let _ = write!(out, "{sep}${}", r * columns + c);
        }
        out.push(')');
    }
    out
}

/// `SELECT {columns} FROM {from} WHERE {expr} IN (${first}, ...) {filter}`
/// for `n` values (`filter`: more conditions, `AND ...`, or empty). On
/// PostgreSQL, one index lookup per value instead: without statistics (a
/// table not analyzed yet, as after an import or the first burst of ingest)
/// it estimates an `IN` list at a large part of the table and scans all of
/// it; a `LATERAL` subquery it cannot flatten (`OFFSET 0`) is planned for one
/// value, by the index.
pub fn lookup_sql(
    backend: Backend,
    columns: &str,
    from: &str,
    expr: &str,
    first: usize,
    n: usize,
    filter: &str,
) -> String {
    let values = (first..first + n).map(|i| format!("${i}"));
    match backend {
        Backend::Sqlite => format!(
            "SELECT {columns} FROM {from} WHERE {expr} IN ({}) {filter}",
            values.collect::<Vec<_>>().join(", ")
        ),
        Backend::Postgres => format!(
            "SELECT s.* FROM (VALUES {}) AS q(x) CROSS JOIN LATERAL \
             (SELECT {columns} FROM {from} WHERE {expr} = q.x {filter} OFFSET 0) AS s",
            values.map(|v| format!("({v})")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `sql` with every `$N` outside quotes replaced by `?`, when the Ns are
/// 1, 2, 3, ... in order of appearance (otherwise `sql` unchanged).
fn positional(sql: String) -> String {
    let mut out = String::with_capacity(sql.len());
    let (mut expected, mut quoted) = (1usize, false);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '$' || quoted {
            out.push(c);
            continue;
        }
        let mut n = String::new();
        while let Some((_, d)) = chars.next_if(|(_, d)| d.is_ascii_digit()) {
            n.push(d);
        }
        if n.parse() != Ok(expected) {
            return sql;
        }
        expected += 1;
        out.push('?');
    }
    out
}

/// A float literal that is a double on both backends (PostgreSQL reads a
/// bare `0.5` as `numeric`).
pub fn num(x: f64) -> String {
    format!("CAST({x:?} AS DOUBLE PRECISION)")
}

/// `FROM` items that turn the JSON array of `{"name", "confidence"}` in
/// `column` into rows, with the condition that keeps objects only; the
/// name and confidence are [`intent_name`] and [`intent_confidence`].
pub fn intents_from(backend: Backend, column: &str) -> (String, &'static str) {
    match backend {
        Backend::Sqlite => (
            format!(
                "json_each(CASE WHEN json_valid({column}) THEN \
                 CASE WHEN json_type({column}) = 'array' THEN {column} ELSE '[]' END ELSE '[]' END) AS j"
            ),
            "j.type = 'object'",
        ),
        Backend::Postgres => (
            format!(
                "jsonb_array_elements(CASE WHEN jsonb_typeof(CAST({column} AS jsonb)) = 'array' \
                 THEN CAST({column} AS jsonb) ELSE CAST('[]' AS jsonb) END) AS j(v)"
            ),
            "jsonb_typeof(j.v) = 'object'",
        ),
    }
}

pub fn intent_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "json_extract(j.value, '$.name')",
        Backend::Postgres => "(j.v ->> 'name')",
    }
}

pub fn intent_confidence(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST(json_extract(j.value, '$.confidence') AS DOUBLE PRECISION)",
        Backend::Postgres => {
            "CASE WHEN jsonb_typeof(j.v -> 'confidence') = 'number' \
             THEN CAST(j.v ->> 'confidence' AS DOUBLE PRECISION) END"
        }
    }
}

/// `FROM` item over the JSON array of strings in `column`, the condition
/// that keeps strings, and the expression of one topic.
pub fn topics_from(backend: Backend, column: &str) -> (String, &'static str, &'static str) {
    match backend {
        Backend::Sqlite => (
            format!(
                "json_each(CASE WHEN json_valid({column}) THEN \
                 CASE WHEN json_type({column}) = 'array' THEN {column} ELSE '[]' END ELSE '[]' END) AS t"
            ),
            "t.type = 'text'",
            "t.value",
        ),
        Backend::Postgres => (
            format!(
                "jsonb_array_elements(CASE WHEN jsonb_typeof(CAST({column} AS jsonb)) = 'array' \
                 THEN CAST({column} AS jsonb) ELSE CAST('[]' AS jsonb) END) AS t(v)"
            ),
            "jsonb_typeof(t.v) = 'string'",
            "(t.v #>> '{}')",
        ),
    }
}

/// A scalar subquery: the JSON array (as text, `[]` when there are no rows)
/// of the strings `expr` over `rest` (`FROM ... WHERE ...`), in their order.
pub fn json_strings(backend: Backend, expr: &str, rest: &str) -> String {
    match backend {
        Backend::Sqlite => format!("(SELECT json_group_array({expr} ORDER BY {expr}) {rest})"),
        Backend::Postgres => {
            format!("(SELECT COALESCE(CAST(json_agg({expr} ORDER BY {expr}) AS TEXT), '[]') {rest})")
        }
    }
}

/// A JSON object (as text) of `(key, SQL expression)` pairs.
pub fn json_object(backend: Backend, pairs: &[(&str, &str)]) -> String {
    let args: Vec<String> = pairs.iter().map(|(k, v)| format!("'{k}', {v}")).collect();
    match backend {
        Backend::Sqlite => format!("json_object({})", args.join(", ")),
        Backend::Postgres => format!("CAST(json_build_object({}) AS TEXT)", args.join(", ")),
    }
}

/// `MATERIALIZED ` on PostgreSQL: the CTE is computed once. Without it,
/// tables without statistics (new, or not analysed yet) led the planner
/// to re-run a CTE's JSON expansion for every row of a nested loop
/// (seconds for a few hundred posts). SQLite flattens CTEs better.
pub fn materialized(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "MATERIALIZED ",
    }
}

/// The largest of `args` (none is NULL).
pub fn greatest(backend: Backend, args: &[String]) -> String {
    match backend {
        Backend::Sqlite => format!("MAX({})", args.join(", ")),
        Backend::Postgres => format!("GREATEST({})", args.join(", ")),
    }
}

/// Null-safe "some column changed" between `old` and `new` rows:
/// `old.c IS DISTINCT FROM new.c OR ...` (SQLite ≥ 3.39 has it too).
pub fn changed(columns: &[&str], old: &str, new: &str) -> String {
    columns
        .iter()
        .map(|c| format!("{old}.{c} IS DISTINCT FROM {new}.{c}"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// `INSERT INTO table (keys, columns) SELECT ... FROM (select) n` of the
/// rows that are new or differ from the stored ones, updating those that
/// differ. Unchanged rows are left out before the insert: an upsert that
/// meets an existing row locks and rewrites it on PostgreSQL even when its
/// update does nothing, which made a recompute of unchanged scores
/// slower than computing them.
///
/// `old_scope` (a condition on `o`, or empty) narrows the stored rows
/// compared with: without it PostgreSQL may read the whole table for
/// each range of posts.
pub fn upsert(table: &str, keys: &[&str], columns: &[&str], select: &str, old_scope: &str) -> String {
    let all: Vec<&str> = keys.iter().chain(columns).copied().collect();
    let mut on: Vec<String> = keys.iter().map(|k| format!("o.{k} = n.{k}")).collect();
    if !old_scope.is_empty() {
        on.push(old_scope.to_string());
    }
    format!(
        "INSERT INTO {table} ({all}) SELECT {picked} FROM ({select}) n LEFT JOIN {table} o ON {on} \
         WHERE o.{key} IS NULL OR {changed} \
         ON CONFLICT ({keys}) DO UPDATE SET {set} WHERE {differs}",
        all = all.join(", "),
        picked = all.iter().map(|c| format!("n.{c}")).collect::<Vec<_>>().join(", "),
        on = on.join(" AND "),
        key = keys[0],
        changed = changed(columns, "o", "n"),
        keys = keys.join(", "),
        set = columns
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        differs = changed(columns, table, "excluded"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(placeholders(1, 3), "($1, $2, $3)");
        assert_eq!(placeholders(0, 3), "");
    }

    #[test]
    fn positional_only_when_numbered_in_order() {
        assert_eq!(positional("VALUES ($1, $2), ($3, $4)".into()), "VALUES (?, ?), (?, ?)");
        assert_eq!(
            positional("a IN ($1) AND b = '$9' AND c = $2".into()),
            "a IN (?) AND b = '$9' AND c = ?"
        );
        // A value used twice, or out of order, keeps its number.
        assert_eq!(positional("a = $1 OR b = $1".into()), "a = $1 OR b = $1");
        assert_eq!(positional("a = $2, b = $1".into()), "a = $2, b = $1");
        assert_eq!(positional("SELECT 1".into()), "SELECT 1");
    }

    #[test]
    fn literals_are_doubles_and_upserts_skip_unchanged_rows() {
        assert_eq!(num(0.5), "CAST(0.5 AS DOUBLE PRECISION)");
        assert_eq!(num(30.0), "CAST(30.0 AS DOUBLE PRECISION)");
        assert_eq!(
            upsert("t", &["k"], &["a", "b"], "SELECT 1 AS k, 2 AS a, 3 AS b", ""),
            "INSERT INTO t (k, a, b) SELECT n.k, n.a, n.b FROM (SELECT 1 AS k, 2 AS a, 3 AS b) n \
             LEFT JOIN t o ON o.k = n.k WHERE o.k IS NULL OR o.a IS DISTINCT FROM n.a OR o.b IS DISTINCT FROM n.b \
             ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = excluded.b \
             WHERE t.a IS DISTINCT FROM excluded.a OR t.b IS DISTINCT FROM excluded.b"
        );
    }
}
