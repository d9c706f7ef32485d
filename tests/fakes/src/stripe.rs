//! A fake Stripe REST API (<https://docs.stripe.com/api>, version
//! 2024-06-20): `GET /v1/customers`, `/v1/payment_intents`, `/v1/refunds`,
//! `/v1/invoices` (with `status`), `/v1/invoices/{id}/lines` and
//! `/v1/events` (`type`, `types[]`), each object by id too, answering in the
//! documented shapes: lists (`object: "list"`, `data`, `has_more`, `url`)
//! newest first, paged with `limit` (1 to 100, 10 by default) and
//! `starting_after`, filtered with `created[gt|gte|lt|lte]`; refunds expand
//! `data.payment_intent`; a deleted customer read by id is
//! `{"id", "object": "customer", "deleted": true}`; invoices carry their
//! first 10 lines. It accepts only the secret key as `Authorization: Bearer`
//! and requests naming `Stripe-Version: 2024-06-20`.
//!
//! Tests change the account (customers, payments, refunds, invoices,
//! deletions), each change recorded as the event Stripe would create at the
//! time the test gives, and inject faults into the next requests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::server::{RecordedRequest, Server};
use super::util::parse_form;

/// The secret key the fake accepts until [`FakeStripe::set_key`] changes it.
pub const KEY: &str = "sk_test_fake_key";
/// The API version the fake serves; requests must name it.
pub const VERSION: &str = "2024-06-20";
/// Lines an invoice carries; more are read from its `lines` list.
const EMBEDDED_LINES: usize = 10;

/// A customer.
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    /// `cus_...`.
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub metadata: Vec<(String, String)>,
    /// Unix seconds.
    pub created: i64,
}

/// A PaymentIntent.
#[derive(Clone, Debug, PartialEq)]
pub struct PaymentIntent {
    /// `pi_...`.
    pub id: String,
    pub customer: Option<String>,
    /// In the currency's minor unit.
    pub amount: i64,
    /// Lower-case, as Stripe writes it (`eur`).
    pub currency: String,
    /// `succeeded`, `processing`, `requires_payment_method`, ...
    pub status: String,
    /// The invoice it pays, if any.
    pub invoice: Option<String>,
    pub created: i64,
}

/// A refund of a PaymentIntent.
#[derive(Clone, Debug, PartialEq)]
pub struct Refund {
    /// `re_...`.
    pub id: String,
    pub payment_intent: String,
    pub amount: i64,
    pub currency: String,
    /// `succeeded`, `pending`, `failed`, `canceled`, `requires_action`.
    pub status: String,
    pub created: i64,
}

/// An invoice with its lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Invoice {
    /// `in_...`.
    pub id: String,
    pub customer: String,
    pub number: String,
    pub currency: String,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: String,
    /// `sub_...` when a subscription billed it.
    pub subscription: Option<String>,
    pub created: i64,
    /// When it was paid (`status_transitions.paid_at`).
    pub paid_at: Option<i64>,
    pub lines: Vec<InvoiceLine>,
}

/// A line of an invoice.
#[derive(Clone, Debug, PartialEq)]
pub struct InvoiceLine {
    /// `il_...`.
    pub id: String,
    pub description: String,
    pub quantity: u64,
    /// The line's total, in the minor unit.
    pub amount: i64,
    /// The price's product, `prod_...`.
    pub product: String,
}

impl Invoice {
    /// What the customer paid: the sum of the lines.
    pub fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.amount).sum()
    }
}

/// A failure injected into the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That HTTP status with Stripe's error body (429: `rate_limit`).
    Status(u16),
}

/// An event as Stripe keeps it: its type, when, and the object then.
struct Event {
    id: String,
    kind: String,
    created: i64,
    object: Value,
}

#[derive(Default)]
struct Account {
    key: String,
    customers: Vec<Customer>,
    /// Ids of deleted customers.
    deleted: Vec<String>,
    payments: Vec<PaymentIntent>,
    refunds: Vec<Refund>,
    invoices: Vec<Invoice>,
    events: Vec<Event>,
    /// What the next requests meet, in order (`None`: the request is served).
    faults: VecDeque<Option<Fault>>,
    requests: Vec<RecordedRequest>,
}

impl Account {
    fn event(&mut self, kind: &str, created: i64, object: Value) {
        let id = format!("evt_{}", self.events.len() + 1);
        self.events.push(Event {
            id,
            kind: kind.into(),
            created,
            object,
        });
    }

    fn payment(&self, id: &str) -> Option<&PaymentIntent> {
        self.payments.iter().find(|p| p.id == id)
    }
}

pub struct FakeStripe {
    server: Server,
    account: Arc<Mutex<Account>>,
}

impl FakeStripe {
    pub async fn start() -> anyhow::Result<FakeStripe> {
        let account = Arc::new(Mutex::new(Account {
            key: KEY.into(),
            ..Account::default()
        }));
        let state = account.clone();
        let (server, ()) = Server::start("the fake Stripe", move |_| {
            Ok((Router::new().fallback(handle).with_state(state), ()))
        })
        .await?;
        Ok(FakeStripe { server, account })
    }

    /// The API's origin, the plugin's `api-url` config.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    fn account(&self) -> MutexGuard<'_, Account> {
        self.account.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds or replaces (by id) a customer at `at` (`customer.created` or
    /// `customer.updated`).
    pub fn put_customer(&self, customer: Customer, at: i64) {
        let mut account = self.account();
        let known = account.customers.iter().any(|c| c.id == customer.id);
        account.customers.retain(|c| c.id != customer.id);
        let kind = if known { "customer.updated" } else { "customer.created" };
        account.event(kind, at, customer_json(&customer));
        account.customers.push(customer);
    }

    /// Deletes a customer at `at` (`customer.deleted`).
    pub fn delete_customer(&self, id: &str, at: i64) {
        let mut account = self.account();
        let Some(gone) = account.customers.iter().find(|c| c.id == id).cloned() else {
            return;
        };
        account.customers.retain(|c| c.id != id);
        account.deleted.push(id.to_string());
        account.event("customer.deleted", at, customer_json(&gone));
    }

    /// Adds or replaces a PaymentIntent; a succeeded one records
    /// `payment_intent.succeeded` at its creation.
    pub fn put_payment(&self, payment: PaymentIntent) {
        let mut account = self.account();
        account.payments.retain(|p| p.id != payment.id);
        if payment.status == "succeeded" {
            account.event("payment_intent.succeeded", payment.created, payment_json(&payment));
        }
        account.payments.push(payment);
    }

    /// Adds a refund (`refund.created`).
    pub fn put_refund(&self, refund: Refund) {
        let mut account = self.account();
        account.refunds.retain(|r| r.id != refund.id);
        let object = refund_json(&account, &refund, false);
        account.event("refund.created", refund.created, object);
        account.refunds.push(refund);
    }

    /// Adds or replaces an invoice. A paid one records `invoice.paid` at
    /// `paid_at`, with the PaymentIntent that paid it (`pi_` + its id,
    /// naming the invoice) and that one's `payment_intent.succeeded`.
    pub fn put_invoice(&self, invoice: Invoice) {
        let mut account = self.account();
        account.invoices.retain(|i| i.id != invoice.id);
        if invoice.status == "paid" {
            let at = invoice.paid_at.unwrap_or(invoice.created);
            let payment = PaymentIntent {
                id: format!("pi_{}", invoice.id),
                customer: Some(invoice.customer.clone()),
                amount: invoice.total(),
                currency: invoice.currency.clone(),
                status: "succeeded".into(),
                invoice: Some(invoice.id.clone()),
                created: at,
            };
            account.payments.retain(|p| p.id != payment.id);
            account.event("payment_intent.succeeded", at, payment_json(&payment));
            account.payments.push(payment);
            account.event("invoice.paid", at, invoice_json(&invoice));
        }
        account.invoices.push(invoice);
    }

    /// Makes the next request fail with `fault` (after those queued before).
    pub fn fail_next(&self, fault: Fault) {
        self.account().faults.push_back(Some(fault));
    }

    /// Serves the next request (after those queued before): with
    /// [`Self::fail_next`], a failure at the Nth request.
    pub fn pass_next(&self) {
        self.account().faults.push_back(None);
    }

    /// Accepts only `key` from now on (a rotated or revoked key).
    pub fn set_key(&self, key: &str) {
        self.account().key = key.into();
    }

    /// The requests received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.account().requests.clone()
    }
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = json!({ "error": { "type": kind, "code": code, "message": message } });
    (status, axum::Json(body)).into_response()
}

fn customer_json(c: &Customer) -> Value {
    let metadata: serde_json::Map<String, Value> = c
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    json!({
        "id": c.id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": c.created,
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": c.description,
        "discount": null,
        "email": c.email,
        "invoice_prefix": "FAKE0001",
        "livemode": false,
        "metadata": metadata,
        "name": c.name,
        "phone": c.phone,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    })
}

fn payment_json(p: &PaymentIntent) -> Value {
    let received = if p.status == "succeeded" { p.amount } else { 0 };
    json!({
        "id": p.id,
        "object": "payment_intent",
        "amount": p.amount,
        "amount_capturable": 0,
        "amount_received": received,
        "capture_method": "automatic",
        "client_secret": format!("{}_secret_fake", p.id),
        "confirmation_method": "automatic",
        "created": p.created,
        "currency": p.currency,
        "customer": p.customer,
        "description": null,
        "invoice": p.invoice,
        "last_payment_error": null,
        "latest_charge": format!("ch_{}", p.id.trim_start_matches("pi_")),
        "livemode": false,
        "metadata": {},
        "payment_method": "pm_card_visa",
        "payment_method_types": ["card"],
        "status": p.status,
    })
}

fn refund_json(account: &Account, r: &Refund, expand_payment: bool) -> Value {
    let payment = match account.payment(&r.payment_intent) {
        Some(p) if expand_payment => payment_json(p),
        _ => Value::from(r.payment_intent.as_str()),
    };
    json!({
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "balance_transaction": format!("txn_{}", r.id.trim_start_matches("re_")),
        "charge": format!("ch_{}", r.payment_intent.trim_start_matches("pi_")),
        "created": r.created,
        "currency": r.currency,
        "metadata": {},
        "payment_intent": payment,
        "reason": null,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": r.status,
        "transfer_reversal": null,
    })
}

fn line_json(invoice: &Invoice, l: &InvoiceLine) -> Value {
    let recurring = invoice.subscription.is_some();
    let unit = l.amount / i64::try_from(l.quantity.max(1)).unwrap_or(1);
    json!({
        "id": l.id,
        "object": "line_item",
        "amount": l.amount,
        "currency": invoice.currency,
        "description": l.description,
        "discountable": true,
        "invoice": invoice.id,
        "livemode": false,
        "metadata": {},
        "period": { "start": invoice.created, "end": invoice.created },
        "price": {
            "id": format!("price_{}", l.product.trim_start_matches("prod_")),
            "object": "price",
            "active": true,
            "currency": invoice.currency,
            "nickname": null,
            "product": l.product,
            "type": if recurring { "recurring" } else { "one_time" },
            "unit_amount": unit,
        },
        "proration": false,
        "quantity": l.quantity,
        "subscription": invoice.subscription,
        "type": if recurring { "subscription" } else { "invoice_item" },
    })
}

fn invoice_json(i: &Invoice) -> Value {
    let total = i.total();
    let paid = i.status == "paid";
    let lines: Vec<Value> = i.lines.iter().take(EMBEDDED_LINES).map(|l| line_json(i, l)).collect();
    json!({
        "id": i.id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": total,
        "amount_paid": if paid { total } else { 0 },
        "amount_remaining": if paid { 0 } else { total },
        "billing_reason": if i.subscription.is_some() { "subscription_cycle" } else { "manual" },
        "collection_method": "charge_automatically",
        "created": i.created,
        "currency": i.currency,
        "customer": i.customer,
        "hosted_invoice_url": null,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": i.lines.len() > EMBEDDED_LINES,
            "total_count": i.lines.len(),
            "url": format!("/v1/invoices/{}/lines", i.id),
        },
        "livemode": false,
        "metadata": {},
        "number": i.number,
        "paid": paid,
        "payment_intent": if paid { Some(format!("pi_{}", i.id)) } else { None },
        "period_end": i.created,
        "period_start": i.created,
        "status": i.status,
        "status_transitions": {
            "finalized_at": i.created,
            "marked_uncollectible_at": null,
            "paid_at": i.paid_at,
            "voided_at": null,
        },
        "subscription": i.subscription,
        "subtotal": total,
        "total": total,
    })
}

fn event_json(e: &Event) -> Value {
    json!({
        "id": e.id,
        "object": "event",
        "api_version": VERSION,
        "created": e.created,
        "data": { "object": e.object },
        "livemode": false,
        "pending_webhooks": 0,
        "request": { "id": null, "idempotency_key": null },
        "type": e.kind,
    })
}

/// The query's values of `name`, in order.
fn values<'a>(query: &'a [(String, String)], name: &str) -> impl Iterator<Item = &'a str> {
    query.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    values(query, name).next()
}

/// Whether `created` passes the query's `created[...]` filters; the text
/// of a bound that is not an integer.
fn created_ok(query: &[(String, String)], created: i64) -> Result<bool, String> {
    let mut ok = true;
    for (op, test) in [
        ("gt", (|c, t| c > t) as fn(i64, i64) -> bool),
        ("gte", |c, t| c >= t),
        ("lt", |c, t| c < t),
        ("lte", |c, t| c <= t),
    ] {
        if let Some(text) = value(query, &format!("created[{op}]")) {
            let bound: i64 = text.parse().map_err(|_| text.to_string())?;
            ok &= test(created, bound);
        }
    }
    Ok(ok)
}

/// One page of `items` (id, created, object; in the order they were added)
/// as a Stripe list at `url`: newest first, filtered by `created`, after
/// `starting_after`, `limit` long.
fn list(items: Vec<(String, i64, Value)>, query: &[(String, String)], url: &str) -> Response {
    let limit = match value(query, "limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                "This value must be between 1 and 100.",
            );
        }
    };
    let mut kept = Vec::new();
    for (position, item) in items.into_iter().enumerate() {
        match created_ok(query, item.1) {
            Ok(true) => kept.push((position, item)),
            Ok(false) => {}
            Err(text) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("parameter_invalid_integer"),
                    &format!("Invalid integer: {text}"),
                );
            }
        }
    }
    kept.sort_by(|(pa, a), (pb, b)| (b.1, pb).cmp(&(a.1, pa)));
    let start = match value(query, "starting_after") {
        None => 0,
        Some(after) => match kept.iter().position(|(_, (id, _, _))| id == after) {
            Some(at) => at + 1,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("resource_missing"),
                    &format!("No such object: '{after}'"),
                );
            }
        },
    };
    let end = (start + limit).min(kept.len());
    let data: Vec<Value> = kept
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|(_, (_, _, v))| v.clone())
        .collect();
    let body = json!({ "object": "list", "url": url, "has_more": end < kept.len(), "data": data });
    axum::Json(body).into_response()
}

fn missing(what: &str, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("resource_missing"),
        &format!("No such {what}: '{id}'"),
    )
}

async fn handle(AxumState(account): AxumState<Arc<Mutex<Account>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let recorded = RecordedRequest::of(&parts, &body);
    let mut account = account.lock().unwrap_or_else(PoisonError::into_inner);
    account.requests.push(recorded.clone());
    let bearer = format!("Bearer {}", account.key);
    if recorded.header("authorization") != Some(bearer.as_str()) {
        let shown = recorded.header("authorization").unwrap_or_default();
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            &format!(
                "Invalid API Key provided: {}****",
                shown.trim_start_matches("Bearer ").chars().take(8).collect::<String>()
            ),
        );
    }
    if recorded.header("stripe-version") != Some(VERSION) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            &format!("this fake serves Stripe-Version {VERSION} only"),
        );
    }
    match account.faults.pop_front().flatten() {
        Some(Fault::Status(429)) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_request_error",
                Some("rate_limit"),
                "Too many requests hit the API too quickly.",
            );
        }
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(
                status,
                "api_error",
                None,
                "An error occurred with our connection to Stripe.",
            );
        }
        None => {}
    }
    if parts.method != axum::http::Method::GET {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            "Unrecognized request URL",
        );
    }
    let query = parse_form(&recorded.query);
    let path: Vec<&str> = recorded.path.trim_matches('/').split('/').collect();
    let account = &*account;
    match path.as_slice() {
        ["v1", "customers"] => {
            let items = account
                .customers
                .iter()
                .map(|c| (c.id.clone(), c.created, customer_json(c)))
                .collect();
            list(items, &query, "/v1/customers")
        }
        ["v1", "customers", id] => match account.customers.iter().find(|c| c.id == *id) {
            Some(c) => axum::Json(customer_json(c)).into_response(),
            None if account.deleted.iter().any(|d| d == id) => {
                axum::Json(json!({ "id": id, "object": "customer", "deleted": true })).into_response()
            }
            None => missing("customer", id),
        },
        ["v1", "payment_intents"] => {
            let items = account
                .payments
                .iter()
                .map(|p| (p.id.clone(), p.created, payment_json(p)))
                .collect();
            list(items, &query, "/v1/payment_intents")
        }
        ["v1", "payment_intents", id] => match account.payment(id) {
            Some(p) => axum::Json(payment_json(p)).into_response(),
            None => missing("payment_intent", id),
        },
        ["v1", "refunds"] => {
            let expand = values(&query, "expand[]").any(|e| e == "data.payment_intent");
            let items = account
                .refunds
                .iter()
                .map(|r| (r.id.clone(), r.created, refund_json(account, r, expand)))
                .collect();
            list(items, &query, "/v1/refunds")
        }
        ["v1", "invoices"] => {
            let status = value(&query, "status");
            let items = account
                .invoices
                .iter()
                .filter(|i| status.is_none_or(|s| i.status == s))
                .map(|i| (i.id.clone(), i.created, invoice_json(i)))
                .collect();
            list(items, &query, "/v1/invoices")
        }
        ["v1", "invoices", id] => match account.invoices.iter().find(|i| i.id == *id) {
            Some(i) => axum::Json(invoice_json(i)).into_response(),
            None => missing("invoice", id),
        },
        ["v1", "invoices", id, "lines"] => match account.invoices.iter().find(|i| i.id == *id) {
            // Lines are listed in the invoice's order, not newest first.
            Some(i) => {
                let count = i64::try_from(i.lines.len()).unwrap_or(i64::MAX);
                let items = i
                    .lines
                    .iter()
                    .zip(0..)
                    .map(|(l, n)| (l.id.clone(), count - n, line_json(i, l)))
                    .collect();
                list(items, &query, &format!("/v1/invoices/{id}/lines"))
            }
            None => missing("invoice", id),
        },
        ["v1", "events"] => {
            let mut types: Vec<&str> = values(&query, "types[]").collect();
            types.extend(value(&query, "type"));
            let items = account
                .events
                .iter()
                .filter(|e| types.is_empty() || types.contains(&e.kind.as_str()))
                .map(|e| (e.id.clone(), e.created, event_json(e)))
                .collect();
            list(items, &query, "/v1/events")
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            &format!("Unrecognized request URL (GET: {})", recorded.path),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> Value {
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn query(text: &str) -> Vec<(String, String)> {
        parse_form(text)
    }

    #[tokio::test]
    async fn lists_are_newest_first_paged_after_an_id_and_filtered_by_creation() {
        let items: Vec<(String, i64, Value)> = (1..=5)
            .map(|n| (format!("cus_{n}"), n * 10, json!({ "id": format!("cus_{n}") })))
            .collect();
        let ids = |v: &Value| -> Vec<String> {
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect()
        };
        let first = body(list(items.clone(), &query("limit=2"), "/v1/customers")).await;
        assert_eq!(ids(&first), ["cus_5", "cus_4"]);
        assert_eq!(first["has_more"], true);
        let last = body(list(
            items.clone(),
            &query("limit=2&starting_after=cus_2"),
            "/v1/customers",
        ))
        .await;
        assert_eq!(ids(&last), ["cus_1"]);
        assert_eq!(last["has_more"], false);
        let since = body(list(items.clone(), &query("created%5Bgt%5D=30"), "/v1/customers")).await;
        assert_eq!(ids(&since), ["cus_5", "cus_4"]);
        let bad = list(items, &query("limit=101"), "/v1/customers");
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }
}
