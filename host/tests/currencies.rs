//! Lifetime values are counted in one reporting currency; other currencies
//! count only through a rate the admin supplied, and are otherwise reported
//! apart, never summed as if they were the same money (SQLite and
//! PostgreSQL; the API for reading and setting them).

mod common;

use reqwest::Method;
use serde_json::{Value, json};
use socialcrm::crm::currency;
use socialcrm::insights::{self, churn_ranking};
use socialcrm::store::{Db, now_ms};
use socialcrm::tokens::{self, Role};
use sqlx::Row;

use common::http::answer;

async fn contact(db: &Db, name: &str) -> i64 {
    sqlx::query("INSERT INTO contacts (external_id, name, created_at, updated_at) VALUES ($1, $1, 0, 0) RETURNING id")
        .bind(name)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("id")
}

async fn transaction(db: &Db, id: &str, contact: i64, kind: &str, amount: f64, currency: &str) {
    sqlx::query(
        "INSERT INTO transactions (external_id, contact_id, kind, amount, currency, occurred_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, 0)",
    )
    .bind(id)
    .bind(contact)
    .bind(kind)
    .bind(amount)
    .bind(currency)
    .bind(now_ms() - 86_400_000)
    .execute(db.pool())
    .await
    .unwrap();
}

/// Each contact's (ltv, ltv currency, unconverted), by name.
async fn values(db: &Db) -> Vec<(String, f64, Option<String>, i64)> {
    insights::recompute(db, now_ms()).await.unwrap();
    let rows = sqlx::query(
        "SELECT c.name, s.ltv, s.ltv_currency, s.unconverted FROM contact_scores s JOIN contacts c ON c.id = s.contact_id \
         ORDER BY c.name",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    rows.iter()
        .map(|r| (r.get("name"), r.get("ltv"), r.get("ltv_currency"), r.get("unconverted")))
        .collect()
}

fn eur() -> Option<String> {
    Some("EUR".into())
}

/// Ada buys in euros, Ben in dollars and euros, Chie in yen.
async fn world(db: &Db) -> (i64, i64, i64) {
    let (ada, ben, chie) = (
        contact(db, "ada").await,
        contact(db, "ben").await,
        contact(db, "chie").await,
    );
    transaction(db, "a1", ada, "purchase", 100.0, "EUR").await;
    transaction(db, "a2", ada, "purchase", 50.0, "EUR").await;
    transaction(db, "a3", ada, "refund", 20.0, "EUR").await;
    transaction(db, "b1", ben, "purchase", 200.0, "USD").await;
    transaction(db, "b2", ben, "purchase", 10.0, "EUR").await;
    transaction(db, "c1", chie, "purchase", 5000.0, "JPY").await;
    (ada, ben, chie)
}

#[tokio::test]
async fn values_never_add_up_two_currencies_without_a_rate() {
    common::on_each_db(|db| async move {
        let (_, _, chie) = world(&db).await;
        // No reporting currency chosen: the most used one (EUR) is, and the
        // dollars and yen are left out and counted as such.
        let reporting = currency::reporting(&db).await.unwrap().unwrap();
        assert_eq!((reporting.currency.as_str(), reporting.inferred), ("EUR", true));
        assert_eq!(
            values(&db).await,
            vec![
                ("ada".into(), 130.0, eur(), 0),
                ("ben".into(), 10.0, eur(), 1),
                ("chie".into(), 0.0, eur(), 1),
            ]
        );
        let ranking = churn_ranking(&db, 10).await.unwrap();
        let chie_score = ranking.iter().find(|s| s.contact_id == chie).unwrap();
        assert!(
            chie_score
                .explanation
                .contains("1 transaction in currencies without a rate not counted"),
            "{}",
            chie_score.explanation
        );

        // With rates, they convert.
        let rates = [("USD".to_string(), 0.9), ("JPY".to_string(), 0.0061)];
        assert_eq!(currency::set_rates(&db, &rates, "test").await.unwrap(), "EUR");
        assert_eq!(
            values(&db).await,
            vec![
                ("ada".into(), 130.0, eur(), 0),
                ("ben".into(), 190.0, eur(), 0),
                ("chie".into(), 30.5, eur(), 0),
            ]
        );
        // Setting rates fixed the currency they are rates to.
        assert!(!currency::reporting(&db).await.unwrap().unwrap().inferred);

        // Another reporting currency: the rates into euros convert nothing
        // into dollars; euros are not taken for dollars.
        currency::set_reporting(&db, "usd", "test").await.unwrap();
        let usd = Some("USD".to_string());
        assert_eq!(
            values(&db).await,
            vec![
                ("ada".into(), 0.0, usd.clone(), 3),
                ("ben".into(), 200.0, usd.clone(), 1),
                ("chie".into(), 0.0, usd.clone(), 1),
            ]
        );
        // A rate for the reporting currency itself is refused, as is a bad one.
        let refused = currency::set_rates(&db, &[("USD".into(), 2.0)], "test").await;
        assert!(
            matches!(refused, Err(currency::CurrencyError::Reporting(_))),
            "{refused:?}"
        );
        assert!(currency::rate("EUR", 0.0).is_err() && currency::rate("EUR", f64::NAN).is_err());
        // Every change is audited.
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('currency.rates', 'currency.reporting')",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(audited, 2);
    })
    .await;
}

#[tokio::test]
async fn the_api_reports_values_per_currency_and_lets_an_admin_set_rates() {
    common::on_each_db(|db| async move {
        let (_, ben, _) = world(&db).await;
        let http = common::http::start(&db).await;
        let admin = tokens::create(&db, "root", Role::Admin, "test").await.unwrap();
        let viewer = tokens::create(&db, "eve", Role::Viewer, "test").await.unwrap();
        let call = |method: Method, path: &str, token: &str| {
            reqwest::Client::new()
                .request(method, http.api(path))
                .bearer_auth(token.to_string())
        };

        let (status, overview) = answer(call(Method::GET, "/currencies", &viewer)).await;
        assert_eq!(status, 200, "{overview}");
        assert_eq!(overview["reporting"], json!({"currency": "EUR", "inferred": true}));
        let converts: Vec<(String, bool)> = overview["in_use"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["currency"].as_str().unwrap().to_string(),
                    c["converts"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            converts,
            vec![("EUR".into(), true), ("JPY".into(), false), ("USD".into(), false)]
        );

        // Only an admin sets a rate, and only a positive one.
        let rate = |code: &str, body: Value, token: &str| {
            call(Method::PUT, &format!("/currencies/rates/{code}"), token).json(&body)
        };
        assert_eq!(answer(rate("USD", json!({"rate": 0.9}), &viewer)).await.0, 403);
        assert_eq!(answer(rate("USD", json!({"rate": -1.0}), &admin)).await.0, 400);
        assert_eq!(answer(rate("US1", json!({"rate": 1.0}), &admin)).await.0, 400);
        assert_eq!(answer(rate("EUR", json!({"rate": 1.0}), &admin)).await.0, 409);
        let (status, overview) = answer(rate("usd", json!({"rate": 0.9}), &admin)).await;
        assert_eq!(status, 200, "{overview}");
        assert_eq!(overview["rates"][0]["currency"], "USD");
        assert_eq!(overview["rates"][0]["rate"], 0.9);

        // The 360 shows each currency apart, converted where a rate exists.
        let (status, c360) = answer(call(Method::GET, &format!("/contacts/{ben}"), &viewer)).await;
        assert_eq!(status, 200, "{c360}");
        assert_eq!(c360["reporting_currency"], "EUR");
        assert_eq!(
            c360["values"],
            json!([
                {"currency": "EUR", "orders": 1, "spent": 10.0, "refunded": 0.0, "net": 10.0, "converted": 10.0},
                {"currency": "USD", "orders": 1, "spent": 200.0, "refunded": 0.0, "net": 200.0, "converted": 180.0},
            ])
        );
        assert_eq!(c360["sources"], json!([]));

        let (status, _) = answer(call(Method::DELETE, "/currencies/rates/USD", &admin)).await;
        assert_eq!(status, 200);
        assert_eq!(
            answer(call(Method::DELETE, "/currencies/rates/USD", &admin)).await.0,
            404
        );
        let (_, c360) = answer(call(Method::GET, &format!("/contacts/{ben}"), &viewer)).await;
        assert_eq!(c360["values"][1]["converted"], Value::Null);

        let (status, overview) =
            answer(call(Method::PUT, "/currencies/reporting", &admin).json(&json!({"currency": "jpy"}))).await;
        assert_eq!(status, 200, "{overview}");
        assert_eq!(overview["reporting"], json!({"currency": "JPY", "inferred": false}));
    })
    .await;
}

#[tokio::test]
async fn a_malformed_stored_currency_is_never_quoted_into_a_query() {
    common::on_each_db(|db| async move {
        let ada = contact(&db, "ada").await;
        // Rows no import or source would write (both check the code), as a
        // hand-edited database could hold them.
        transaction(&db, "a1", ada, "purchase", 10.0, "E'R").await;
        transaction(&db, "a2", ada, "purchase", 10.0, "E'R").await;
        transaction(&db, "a3", ada, "purchase", 5.0, "USD").await;
        sqlx::query("INSERT INTO settings (key, value) VALUES ('reporting-currency', 'x'' OR 1=1 --')")
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(currency::reporting(&db).await.unwrap(), None);
        assert_eq!(values(&db).await, vec![("ada".into(), 0.0, None, 3)]);
    })
    .await;
}
