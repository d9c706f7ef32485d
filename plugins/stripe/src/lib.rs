//! First-party Stripe source: customers, succeeded PaymentIntents, refunds
//! and paid invoices with their lines, and deleted customers, read from the
//! REST API (<https://docs.stripe.com/api>, version [`api::VERSION`]) through
//! its lists (`limit`, `starting_after`, `has_more`).
//!
//! The first pass reads every list. Stripe changes objects in place (a
//! PaymentIntent succeeds, an invoice is paid, a customer is renamed long
//! after it was created), so each later pass reads what changed from the
//! events of the last 30 days (`created[gt]`): the event names the object,
//! which is read again by id, because an event's copy is rendered in the
//! account's API version of that day and may be older than another event's.
//! Refunds, which do not change, are listed with `created[gt]`. The host
//! attaches the secret key; the plugin never sees it.

mod api;
mod cursor;
mod money;

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use socialcrm_sdk::http::encode;
use socialcrm_sdk::source::{
    Contact, CustomField, Deletion, Descriptor, Page, ProductLine, RecordKind, Source, Transaction, TransactionKind,
};
use socialcrm_sdk::{Config, ConfigExt, PluginError, http, log, time};

use api::{Client, List};
use cursor::{Cursor, Phase};

/// Objects per list page: Stripe returns at most 100.
const PER_PAGE: u32 = 100;
/// Invoices carry lines that may need more requests: fewer per page.
const INVOICES_PER_PAGE: u32 = 25;
/// Events per page: each costs one more request to read its object.
const EVENTS_PER_PAGE: u32 = 10;
/// Requests kept back before reading one more object: a read and its retries.
const RESERVE: u32 = 4;

#[derive(Deserialize)]
struct Customer {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// A deleted customer read by id is `{"id", "object", "deleted": true}`.
    #[serde(default)]
    deleted: bool,
}

/// An expandable field: the object's id, or the object itself.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable<T> {
    Id(String),
    Object(T),
}

#[derive(Deserialize)]
struct Ref {
    id: String,
}

impl Expandable<Ref> {
    fn id(self) -> String {
        match self {
            Expandable::Id(id) | Expandable::Object(Ref { id }) => id,
        }
    }
}

#[derive(Deserialize)]
struct PaymentIntent {
    id: String,
    amount_received: i64,
    currency: String,
    #[serde(default)]
    customer: Option<Expandable<Ref>>,
    status: String,
    created: i64,
    /// The invoice this payment pays, if any (the invoice is read instead).
    #[serde(default)]
    invoice: Option<Expandable<Ref>>,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
    amount: i64,
    currency: String,
    created: i64,
    #[serde(default)]
    status: Option<String>,
    /// Expanded (`expand[]=data.payment_intent`) for its customer.
    #[serde(default)]
    payment_intent: Option<Expandable<PaymentRef>>,
}

#[derive(Deserialize)]
struct PaymentRef {
    id: String,
    #[serde(default)]
    customer: Option<Expandable<Ref>>,
}

#[derive(Deserialize)]
struct Invoice {
    id: String,
    #[serde(default)]
    customer: Option<Expandable<Ref>>,
    #[serde(default)]
    status: Option<String>,
    amount_paid: i64,
    currency: String,
    created: i64,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    subscription: Option<Expandable<Ref>>,
    #[serde(default)]
    status_transitions: Option<Transitions>,
    lines: List<Line>,
}

#[derive(Deserialize)]
struct Transitions {
    #[serde(default)]
    paid_at: Option<i64>,
}

#[derive(Deserialize)]
struct Line {
    id: String,
    amount: i64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    quantity: Option<u64>,
    #[serde(default)]
    price: Option<Price>,
}

#[derive(Deserialize)]
struct Price {
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    product: Option<Expandable<Ref>>,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: Ref,
}

struct Stripe;

impl Source for Stripe {
    fn describe() -> Descriptor {
        Descriptor {
            source: "stripe".into(),
            description: "Customers, payments, refunds and paid invoices with their lines of a Stripe account".into(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let mut client = Client::new(base(&config)?);
        let _: List<Customer> = client.get("/v1/customers", &[("limit", "1".into())], "reading customers")?;
        log::info("the key reads the account's customers");
        Ok(())
    }

    fn pull(config: Config, cursor: String) -> Result<Page, PluginError> {
        let mut client = Client::new(base(&config)?);
        let at = Cursor::parse(&cursor, time::now_millis() / 1_000)?;
        let mut page = Page {
            contacts: Vec::new(),
            transactions: Vec::new(),
            deletions: Vec::new(),
            cursor: String::new(),
            has_more: true,
        };
        let reached = match (at.phase, at.full()) {
            (Phase::Customers, true) => {
                let list: List<Customer> =
                    client.get("/v1/customers", &list_query(&at, PER_PAGE), "listing customers")?;
                walk(
                    &mut client,
                    list,
                    |c| c.id.clone(),
                    |_, c, _| {
                        page.contacts.push(contact(c));
                        Ok(true)
                    },
                )?
            }
            (Phase::Customers, false) => {
                let types = ["customer.created", "customer.updated"];
                changed(&mut client, &at, &types, "/v1/customers", |_, c: Customer, _| {
                    if c.deleted {
                        page.deletions.push(deleted_customer(c.id));
                    } else {
                        page.contacts.push(contact(c));
                    }
                    Ok(true)
                })?
            }
            (Phase::Payments, true) => {
                let query = list_query(&at, PER_PAGE);
                let list: List<PaymentIntent> = client.get("/v1/payment_intents", &query, "listing PaymentIntents")?;
                walk(
                    &mut client,
                    list,
                    |p| p.id.clone(),
                    |_, p, _| {
                        page.transactions.extend(order(p)?);
                        Ok(true)
                    },
                )?
            }
            (Phase::Payments, false) => changed(
                &mut client,
                &at,
                &["payment_intent.succeeded"],
                "/v1/payment_intents",
                |_, p, _| {
                    page.transactions.extend(order(p)?);
                    Ok(true)
                },
            )?,
            (Phase::Refunds, _) => {
                let mut query = list_query(&at, PER_PAGE);
                query.push(("expand[]", "data.payment_intent".into()));
                let list: List<Refund> = client.get("/v1/refunds", &query, "listing refunds")?;
                walk(
                    &mut client,
                    list,
                    |r| r.id.clone(),
                    |_, r, _| {
                        page.transactions.extend(refund(r)?);
                        Ok(true)
                    },
                )?
            }
            (Phase::Invoices, true) => {
                let mut query = list_query(&at, INVOICES_PER_PAGE);
                query.push(("status", "paid".into()));
                let list: List<Invoice> = client.get("/v1/invoices", &query, "listing invoices")?;
                walk(
                    &mut client,
                    list,
                    |i| i.id.clone(),
                    |client, invoice, first| paid_invoice(client, invoice, first, &mut page.transactions),
                )?
            }
            (Phase::Invoices, false) => changed(
                &mut client,
                &at,
                &["invoice.paid"],
                "/v1/invoices",
                |client, invoice, first| paid_invoice(client, invoice, first, &mut page.transactions),
            )?,
            (Phase::Deletions, _) => {
                let query = events_query(&at, &["customer.deleted"]);
                let list: List<Event> = client.get("/v1/events", &query, "listing deleted customers")?;
                walk(
                    &mut client,
                    list,
                    |e| e.id.clone(),
                    |_, e, _| {
                        page.deletions.push(deleted_customer(e.data.object.id));
                        Ok(true)
                    },
                )?
            }
        };
        let next = match reached {
            Reached::End => at.after_phase(),
            Reached::After(id) => at.after(id),
        };
        // A pass ends after its last phase; the next starts at the next sync.
        page.has_more = next.started != 0;
        page.cursor = next.text();
        Ok(page)
    }
}

/// How far a page got through its list.
enum Reached {
    /// The list is done.
    End,
    /// More follow the object with this id.
    After(String),
}

/// The API's origin: `api-url`, or Stripe's.
fn base(config: &Config) -> Result<String, PluginError> {
    match ConfigExt::get(config.as_slice(), "api-url") {
        None => Ok(api::DEFAULT_BASE.to_string()),
        Some(raw) => http::origin(raw).ok_or_else(|| {
            PluginError::InvalidConfig(format!(
                "`api-url` must be an origin like https://api.stripe.com (got `{raw}`)"
            ))
        }),
    }
}

/// `limit`, `starting_after` and, in a later pass, `created[gt]`.
fn list_query(at: &Cursor, limit: u32) -> Vec<(&'static str, String)> {
    let mut query = vec![("limit", limit.to_string())];
    if let Some(after) = &at.after {
        query.push(("starting_after", after.clone()));
    }
    if let Some(since) = at.since {
        query.push(("created[gt]", since.to_string()));
    }
    query
}

fn events_query(at: &Cursor, types: &[&str]) -> Vec<(&'static str, String)> {
    let mut query = list_query(at, EVENTS_PER_PAGE);
    query.extend(types.iter().map(|t| ("types[]", t.to_string())));
    query
}

/// Hands each object of `list` to `each` in order (`first` for the first),
/// and says how far the page got: `each` answers `false`, having kept
/// nothing, when the object needs more requests than the pull has left;
/// the page then ends before it. It must keep the first, so that a page
/// always moves on.
fn walk<T>(
    client: &mut Client,
    list: List<T>,
    id: impl Fn(&T) -> String,
    mut each: impl FnMut(&mut Client, T, bool) -> Result<bool, PluginError>,
) -> Result<Reached, PluginError> {
    let mut last = None;
    for (i, object) in list.data.into_iter().enumerate() {
        let object_id = id(&object);
        if !each(client, object, i == 0)? {
            return last.map(Reached::After).ok_or_else(|| {
                PluginError::Transient(format!("{object_id} could not be read within one pull's requests"))
            });
        }
        last = Some(object_id);
    }
    Ok(match last {
        Some(last) if list.has_more => Reached::After(last),
        _ => Reached::End,
    })
}

/// Hands `each` (as [`walk`] does) the objects named by a page of events of
/// `types` since the pass's `since`, each read by id at the pinned version
/// (once, however many events name it); an object gone meanwhile (404) is
/// left out.
fn changed<T: DeserializeOwned>(
    client: &mut Client,
    at: &Cursor,
    types: &[&str],
    path: &str,
    mut each: impl FnMut(&mut Client, T, bool) -> Result<bool, PluginError>,
) -> Result<Reached, PluginError> {
    let list: List<Event> = client.get("/v1/events", &events_query(at, types), "listing events")?;
    let mut seen = HashSet::new();
    walk(
        client,
        list,
        |e| e.id.clone(),
        |client, event, first| {
            let id = event.data.object.id;
            if !seen.insert(id.clone()) {
                return Ok(true);
            }
            if !first && client.requests_left() < RESERVE {
                return Ok(false);
            }
            let what = format!("reading {id}");
            match client.find(&format!("{path}/{}", encode(&id)), &what)? {
                Some(object) => each(client, object, first),
                None => Ok(true),
            }
        },
    )
}

fn deleted_customer(id: String) -> Deletion {
    Deletion {
        kind: RecordKind::Contact,
        external_id: id,
    }
}

fn contact(c: Customer) -> Contact {
    let mut custom_fields: Vec<CustomField> = c
        .description
        .filter(|d| !d.trim().is_empty())
        .map(|value| CustomField {
            name: "description".into(),
            value,
        })
        .into_iter()
        .collect();
    custom_fields.extend(c.metadata.into_iter().map(|(key, value)| CustomField {
        name: format!("metadata.{key}"),
        value,
    }));
    Contact {
        external_id: c.id,
        name: c.name.filter(|n| !n.trim().is_empty()),
        emails: c.email.into_iter().filter(|e| !e.trim().is_empty()).collect(),
        phones: c.phone.into_iter().filter(|p| !p.trim().is_empty()).collect(),
        websites: Vec::new(),
        company: None,
        handles: Vec::new(),
        custom_fields,
    }
}

/// RFC 3339 of a Stripe timestamp (Unix seconds).
fn rfc3339(secs: i64, id: &str) -> Result<String, PluginError> {
    time::from_unix_seconds(secs).ok_or_else(|| PluginError::Permanent(format!("{id}: time `{secs}` is out of range")))
}

/// A succeeded PaymentIntent of a customer, not paying an invoice (the
/// invoice is read as itself): an order. Others are left out.
fn order(p: PaymentIntent) -> Result<Option<Transaction>, PluginError> {
    let Some(customer) = p.customer else { return Ok(None) };
    if p.status != "succeeded" || p.invoice.is_some() {
        return Ok(None);
    }
    Ok(Some(Transaction {
        contact_external_id: customer.id(),
        kind: TransactionKind::Order,
        amount: money::decimal(p.amount_received, &p.currency),
        currency: money::code(&p.currency),
        occurred_at: rfc3339(p.created, &p.id)?,
        status: Some(p.status),
        reference: None,
        lines: Vec::new(),
        external_id: p.id,
    }))
}

/// A refund of a customer's PaymentIntent, its amount positive; one that
/// failed or was canceled returned nothing and is left out, as is one of a
/// payment without a customer or a PaymentIntent.
fn refund(r: Refund) -> Result<Option<Transaction>, PluginError> {
    let Some(Expandable::Object(payment)) = r.payment_intent else {
        return Ok(None);
    };
    let Some(customer) = payment.customer else {
        return Ok(None);
    };
    if matches!(r.status.as_deref(), Some("failed" | "canceled")) {
        return Ok(None);
    }
    Ok(Some(Transaction {
        contact_external_id: customer.id(),
        kind: TransactionKind::Refund,
        amount: money::decimal(r.amount, &r.currency),
        currency: money::code(&r.currency),
        occurred_at: rfc3339(r.created, &r.id)?,
        status: r.status,
        reference: Some(payment.id),
        lines: Vec::new(),
        external_id: r.id,
    }))
}

/// Adds a paid invoice of a customer with all its lines to `out`:
/// `subscription-payment` when a subscription billed it, else `invoice`.
/// `false` when its lines need more requests than the pull has left (the
/// page's `first` keeps the lines read instead, so that a page moves on).
fn paid_invoice(
    client: &mut Client,
    mut invoice: Invoice,
    first: bool,
    out: &mut Vec<Transaction>,
) -> Result<bool, PluginError> {
    let Some(customer) = invoice.customer.take() else {
        return Ok(true);
    };
    if invoice.status.as_deref() != Some("paid") {
        return Ok(true);
    }
    let mut more = invoice.lines.has_more;
    while more {
        if client.requests_left() < RESERVE {
            if !first {
                return Ok(false);
            }
            log::warn(&format!(
                "{}: only its first {} lines were read",
                invoice.id,
                invoice.lines.data.len()
            ));
            break;
        }
        let mut query = vec![("limit", PER_PAGE.to_string())];
        if let Some(last) = invoice.lines.data.last() {
            query.push(("starting_after", last.id.clone()));
        }
        let path = format!("/v1/invoices/{}/lines", encode(&invoice.id));
        let next: List<Line> = client.get(&path, &query, "listing an invoice's lines")?;
        more = next.has_more && !next.data.is_empty();
        invoice.lines.data.extend(next.data);
    }
    let currency = invoice.currency;
    let lines = invoice
        .lines
        .data
        .into_iter()
        .map(|l| {
            let (nickname, product) = l.price.map_or((None, None), |p| (p.nickname, p.product));
            let sku = product.map(Expandable::id);
            let name = l
                .description
                .filter(|d| !d.trim().is_empty())
                .or(nickname)
                .or_else(|| sku.clone())
                .unwrap_or_else(|| "Invoice line".into());
            ProductLine {
                external_id: Some(l.id),
                sku,
                name,
                quantity: l.quantity.map_or(1, |q| u32::try_from(q).unwrap_or(u32::MAX)),
                amount: money::decimal(l.amount, &currency),
            }
        })
        .collect();
    let paid_at = invoice
        .status_transitions
        .and_then(|t| t.paid_at)
        .unwrap_or(invoice.created);
    let kind = if invoice.subscription.is_some() {
        TransactionKind::SubscriptionPayment
    } else {
        TransactionKind::Invoice
    };
    out.push(Transaction {
        contact_external_id: customer.id(),
        kind,
        amount: money::decimal(invoice.amount_paid, &currency),
        currency: money::code(&currency),
        occurred_at: rfc3339(paid_at, &invoice.id)?,
        status: invoice.status,
        reference: invoice.number,
        lines,
        external_id: invoice.id,
    });
    Ok(true)
}

socialcrm_sdk::export_source!(Stripe);

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[&str], has_more: bool) -> List<Ref> {
        List {
            data: ids.iter().map(|id| Ref { id: id.to_string() }).collect(),
            has_more,
        }
    }

    fn reached(list: List<Ref>, room: usize) -> Result<Option<String>, PluginError> {
        let mut client = Client::new("http://127.0.0.1".into());
        let mut kept = 0;
        let reached = walk(
            &mut client,
            list,
            |r| r.id.clone(),
            |_, _, _| {
                kept += 1;
                Ok(kept <= room)
            },
        )?;
        Ok(match reached {
            Reached::End => None,
            Reached::After(id) => Some(id),
        })
    }

    #[test]
    fn a_page_goes_on_after_its_last_object_or_the_last_that_fit() {
        assert_eq!(reached(list(&["a", "b"], false), 9).unwrap(), None);
        assert_eq!(reached(list(&["a", "b"], true), 9).unwrap().as_deref(), Some("b"));
        // The third did not fit in the pull: the next pull starts with it.
        assert_eq!(
            reached(list(&["a", "b", "c", "d"], false), 2).unwrap().as_deref(),
            Some("b")
        );
        assert!(reached(list(&["a"], false), 0).is_err());
    }

    #[test]
    fn only_succeeded_payments_of_a_customer_outside_an_invoice_are_orders() {
        let payment = |status: &str, customer: Option<&str>, invoice: Option<&str>| {
            let json = serde_json::json!({
                "id": "pi_1", "amount_received": 1500, "currency": "jpy", "status": status,
                "created": 1_767_225_600, "customer": customer, "invoice": invoice,
            });
            order(serde_json::from_value(json).unwrap()).unwrap()
        };
        let t = payment("succeeded", Some("cus_1"), None).unwrap();
        assert_eq!((t.amount.as_str(), t.currency.as_str()), ("1500", "JPY"));
        assert_eq!(t.occurred_at, "2026-01-01T00:00:00Z");
        assert!(payment("processing", Some("cus_1"), None).is_none());
        assert!(payment("succeeded", None, None).is_none());
        assert!(payment("succeeded", Some("cus_1"), Some("in_1")).is_none());
    }

    #[test]
    fn a_customer_keeps_its_description_and_metadata() {
        let json = serde_json::json!({
            "id": "cus_1", "name": " ", "email": "a@example.com", "phone": null,
            "description": "VIP", "metadata": { "tier": "gold" },
        });
        let c = contact(serde_json::from_value(json).unwrap());
        assert_eq!(
            (c.name, c.emails, c.phones.len()),
            (None, vec!["a@example.com".to_string()], 0)
        );
        let fields: Vec<_> = c
            .custom_fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(fields, [("description", "VIP"), ("metadata.tier", "gold")]);
    }
}
