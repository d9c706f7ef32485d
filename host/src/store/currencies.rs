//! `currency_rates` and the reporting currency's setting; amounts per
//! currency (the rules are `crate::crm::currency`'s).

use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::{AssertSqlSafe, Row};

use super::Db;
use super::dialect::num;
use super::insights::quoted;

/// The setting that holds the admin's reporting currency.
pub const REPORTING: &str = "reporting-currency";

/// A rate to the reporting currency.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rate {
    pub currency: String,
    /// One unit of `currency` is `rate` units of the reporting currency.
    pub rate: f64,
    pub updated_at: i64,
}

/// A currency some transactions are in.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InUse {
    pub currency: String,
    pub transactions: i64,
    /// The reporting currency itself, or one with a rate to it.
    pub converts: bool,
}

/// The currency most transactions are in (ties: the first by code).
pub async fn most_used(db: &Db) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT currency FROM transactions GROUP BY currency ORDER BY COUNT(*) DESC, currency LIMIT 1")
        .fetch_optional(db.pool())
        .await
}

pub async fn rates(db: &Db, base: &str) -> Result<Vec<Rate>, sqlx::Error> {
    let rows = sqlx::query("SELECT currency, rate, updated_at FROM currency_rates WHERE base = $1 ORDER BY currency")
        .bind(base)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Rate {
                currency: r.try_get("currency")?,
                rate: r.try_get("rate")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect()
}

/// Every currency transactions are in, by code.
pub async fn in_use(db: &Db, base: Option<&str>) -> Result<Vec<InUse>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.currency, COUNT(*) AS n, MAX(CASE WHEN t.currency = $1 OR r.rate IS NOT NULL THEN 1 ELSE 0 END) AS converts \
         FROM transactions t LEFT JOIN currency_rates r ON r.base = $1 AND r.currency = t.currency \
         GROUP BY t.currency ORDER BY t.currency",
    )
    .bind(base.unwrap_or_default())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(InUse {
                currency: r.try_get("currency")?,
                transactions: r.try_get("n")?,
                converts: r.try_get::<i64, _>("converts")? != 0,
            })
        })
        .collect()
}

pub async fn upsert(
    conn: &mut AnyConnection,
    base: &str,
    rates: &[(String, f64)],
    now: i64,
) -> Result<(), sqlx::Error> {
    for (currency, rate) in rates {
        sqlx::query(
            "INSERT INTO currency_rates (base, currency, rate, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (base, currency) DO UPDATE SET rate = excluded.rate, updated_at = excluded.updated_at",
        )
        .bind(base)
        .bind(currency)
        .bind(rate)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn remove(conn: &mut AnyConnection, base: &str, currency: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM currency_rates WHERE base = $1 AND currency = $2")
        .bind(base)
        .bind(currency)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// `(SELECT currency, rate ...)` of every currency that converts into
/// `base` (itself at 1), for a join; none without a base. `base` must be a
/// checked ISO code.
pub fn rates_table(base: Option<&str>) -> String {
    let base = quoted(&[base.unwrap_or_default()]);
    format!(
        "(SELECT currency, rate FROM currency_rates WHERE base = {base} UNION ALL SELECT {base} AS currency, {one} AS rate)",
        one = num(1.0)
    )
}

/// What one contact spent and got back in one currency.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CurrencyValue {
    pub currency: String,
    pub orders: i64,
    /// Orders and subscriptions.
    pub spent: f64,
    /// Refunds and returns.
    pub refunded: f64,
    /// `spent - refunded`.
    pub net: f64,
    /// `net` in the reporting currency; null when this currency has no rate.
    pub converted: Option<f64>,
}

/// A contact's values per currency (largest count of orders first), with
/// `order_kinds` and `refund_kinds` as the scores count them.
pub async fn values_of_contact(
    db: &Db,
    contact_id: i64,
    base: Option<&str>,
    order_kinds: &[&str],
    refund_kinds: &[&str],
) -> Result<Vec<CurrencyValue>, sqlx::Error> {
    let (orders, refunds) = (quoted(order_kinds), quoted(refund_kinds));
    let fx = rates_table(base);
    let sql = format!(
        "SELECT t.currency, \
         SUM(CASE WHEN t.kind IN ({orders}) THEN 1 ELSE 0 END) AS orders, \
         SUM(CASE WHEN t.kind IN ({orders}) THEN ABS(t.amount) ELSE {zero} END) AS spent, \
         SUM(CASE WHEN t.kind IN ({refunds}) THEN ABS(t.amount) ELSE {zero} END) AS refunded, \
         MAX(fx.rate) AS rate \
         FROM transactions t LEFT JOIN {fx} fx ON fx.currency = t.currency \
         WHERE t.contact_id = $1 AND t.kind IN ({orders}, {refunds}) \
         GROUP BY t.currency ORDER BY orders DESC, t.currency",
        zero = num(0.0)
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(contact_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            let spent: f64 = r.try_get("spent")?;
            let refunded: f64 = r.try_get("refunded")?;
            let net = tidy(spent - refunded);
            Ok(CurrencyValue {
                currency: r.try_get("currency")?,
                orders: r.try_get("orders")?,
                spent: tidy(spent),
                refunded: tidy(refunded),
                net,
                converted: r.try_get::<Option<f64>, _>("rate")?.map(|rate| tidy(net * rate)),
            })
        })
        .collect()
}

/// Without the float noise of a sum (`59.900000000001`), keeping the
/// thousandths of three-decimal currencies.
fn tidy(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
