//! First-party Shopify source: customers, orders with their line items and
//! refunds, and deleted customers, read from the GraphQL Admin API
//! (<https://shopify.dev/docs/api/admin-graphql>, version [`api::VERSION`])
//! through cursor pagination (`pageInfo { hasNextPage endCursor }`). The
//! first pass reads everything; each later pass reads what changed since
//! the one before started (`updated_at` searches) and the customers deleted
//! meanwhile (`events` of action `destroy`). The host attaches the access
//! token; the plugin never sees it.

mod api;
mod cursor;

use serde::Deserialize;
use serde_json::json;
use socialcrm_sdk::source::{
    Contact, Deletion, Descriptor, Page, ProductLine, RecordKind, Source, Transaction, TransactionKind,
};
use socialcrm_sdk::{Config, ConfigExt, PluginError, log, time};

use cursor::{Cursor, Phase};

/// Records per page: Shopify's connections return at most 250.
const CUSTOMERS_PER_PAGE: u32 = 100;
/// Orders cost more (line items and refunds nested): fewer per page.
const ORDERS_PER_PAGE: u32 = 50;
/// Line items read per order.
const LINES_PER_ORDER: u32 = 50;

const CUSTOMERS: &str = "query Customers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id firstName lastName email phone updatedAt
      defaultAddress { company }
      note
      tags
    }
  }
}";

const ORDERS: &str = "query Orders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name createdAt displayFinancialStatus
      customer { id }
      totalPriceSet { shopMoney { amount currencyCode } }
      lineItems(first: $lines) {
        nodes { id sku name quantity originalTotalSet { shopMoney { amount currencyCode } } }
      }
      refunds {
        id createdAt
        totalRefundedSet { shopMoney { amount currencyCode } }
      }
    }
  }
}";

const DELETED: &str = "query Deleted($first: Int!, $after: String, $query: String) {
  events(first: $first, after: $after, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { id createdAt action ... on BasicEvent { subjectId subjectType } }
  }
}";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Connection<T> {
    #[serde(rename = "pageInfo")]
    page_info: PageInfo,
    nodes: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Customer {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    default_address: Option<Address>,
    note: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Address {
    company: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    id: String,
    name: String,
    created_at: String,
    display_financial_status: Option<String>,
    customer: Option<Ref>,
    total_price_set: MoneyBag,
    line_items: Lines,
    #[serde(default)]
    refunds: Vec<Refund>,
}

#[derive(Deserialize)]
struct Ref {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBag {
    shop_money: Money,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Money {
    amount: String,
    currency_code: String,
}

#[derive(Deserialize)]
struct Lines {
    nodes: Vec<LineItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItem {
    id: String,
    sku: Option<String>,
    name: String,
    quantity: u32,
    original_total_set: MoneyBag,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refund {
    id: String,
    created_at: String,
    total_refunded_set: MoneyBag,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    action: String,
    subject_id: Option<String>,
    subject_type: Option<String>,
}

struct Shopify;

impl Source for Shopify {
    fn describe() -> Descriptor {
        Descriptor {
            source: "shopify".into(),
            description: "Customers, orders with line items, and refunds of a Shopify shop".into(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let shop = shop(&config)?;
        #[derive(Deserialize)]
        struct Shop {
            shop: Named,
        }
        #[derive(Deserialize)]
        struct Named {
            name: String,
        }
        let found: Shop = api::query(&shop, "query { shop { name } }", json!({}), "reading the shop")?;
        log::info(&format!("connected to the shop {}", found.shop.name));
        Ok(())
    }

    fn pull(config: Config, cursor: String) -> Result<Page, PluginError> {
        let shop = shop(&config)?;
        let now = time::format_millis(time::now_millis());
        let at = Cursor::parse(&cursor, &now)?;
        let variables =
            |first: u32, search: Option<String>| json!({ "first": first, "after": at.after, "query": search });
        let mut page = Page {
            contacts: Vec::new(),
            transactions: Vec::new(),
            deletions: Vec::new(),
            cursor: String::new(),
            has_more: true,
        };
        let (info, next) = match at.phase {
            Phase::Customers => {
                #[derive(Deserialize)]
                struct Data {
                    customers: Connection<Customer>,
                }
                let vars = variables(CUSTOMERS_PER_PAGE, at.search("updated_at"));
                let data: Data = api::query(&shop, CUSTOMERS, vars, "listing customers")?;
                page.contacts = data.customers.nodes.into_iter().map(contact).collect();
                (data.customers.page_info, at.next_phase(Phase::Orders))
            }
            Phase::Orders => {
                #[derive(Deserialize)]
                struct Data {
                    orders: Connection<Order>,
                }
                let mut vars = variables(ORDERS_PER_PAGE, at.search("updated_at"));
                vars["lines"] = json!(LINES_PER_ORDER);
                let data: Data = api::query(&shop, ORDERS, vars, "listing orders")?;
                for order in data.orders.nodes {
                    page.transactions.extend(transactions(order));
                }
                (data.orders.page_info, at.next_phase(Phase::Deletions))
            }
            // The first pass has nothing deleted since it.
            Phase::Deletions if at.since.is_none() => {
                let done = PageInfo {
                    has_next_page: false,
                    end_cursor: None,
                };
                (done, at.next_pass())
            }
            Phase::Deletions => {
                #[derive(Deserialize)]
                struct Data {
                    events: Connection<Event>,
                }
                let search = at
                    .search("created_at")
                    .map(|since| format!("subject_type:CUSTOMER AND action:destroy AND {since}"));
                let data: Data = api::query(
                    &shop,
                    DELETED,
                    variables(CUSTOMERS_PER_PAGE, search),
                    "listing deleted customers",
                )?;
                page.deletions = data
                    .events
                    .nodes
                    .into_iter()
                    .filter(|e| e.action == "destroy" && e.subject_type.as_deref() == Some("CUSTOMER"))
                    .filter_map(|e| e.subject_id)
                    .map(|id| Deletion {
                        kind: RecordKind::Contact,
                        external_id: id,
                    })
                    .collect();
                (data.events.page_info, at.next_pass())
            }
        };
        page.cursor = match (&info.has_next_page, info.end_cursor) {
            (true, Some(end)) => Cursor {
                after: Some(end),
                ..at.clone()
            },
            _ => next.clone(),
        }
        .text();
        // A pass ends after its deletions; the next starts at the next sync.
        page.has_more = info.has_next_page || next.phase != Phase::Customers;
        Ok(page)
    }
}

fn shop(config: &Config) -> Result<String, PluginError> {
    let shop = config.require("shop")?;
    Ok(shop.trim_end_matches('/').to_string())
}

fn contact(c: Customer) -> Contact {
    let name = [c.first_name, c.last_name]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut custom_fields = Vec::new();
    if let Some(note) = c.note.filter(|n| !n.is_empty()) {
        custom_fields.push(socialcrm_sdk::source::CustomField {
            name: "note".into(),
            value: note,
        });
    }
    if !c.tags.is_empty() {
        custom_fields.push(socialcrm_sdk::source::CustomField {
            name: "tags".into(),
            value: c.tags.join(", "),
        });
    }
    Contact {
        external_id: c.id,
        name: (!name.is_empty()).then_some(name),
        emails: c.email.into_iter().collect(),
        phones: c.phone.into_iter().collect(),
        websites: Vec::new(),
        company: c.default_address.and_then(|a| a.company),
        handles: Vec::new(),
        custom_fields,
    }
}

/// An order and each of its refunds (a transaction of its own, the amount
/// positive: the kind says it is money returned). An order without a
/// customer (a guest checkout) names no contact and is left out.
fn transactions(order: Order) -> Vec<Transaction> {
    let Some(customer) = order.customer else {
        return Vec::new();
    };
    let money = order.total_price_set.shop_money;
    let lines = order
        .line_items
        .nodes
        .into_iter()
        .map(|l| ProductLine {
            external_id: Some(l.id),
            sku: l.sku.filter(|s| !s.is_empty()),
            name: l.name,
            quantity: l.quantity,
            amount: l.original_total_set.shop_money.amount,
        })
        .collect();
    let mut out = vec![Transaction {
        external_id: order.id,
        contact_external_id: customer.id.clone(),
        kind: TransactionKind::Order,
        amount: money.amount,
        currency: money.currency_code,
        occurred_at: order.created_at,
        status: order.display_financial_status.map(|s| s.to_lowercase()),
        reference: Some(order.name.clone()),
        lines,
    }];
    out.extend(order.refunds.into_iter().map(|r| {
        let money = r.total_refunded_set.shop_money;
        Transaction {
            external_id: r.id,
            contact_external_id: customer.id.clone(),
            kind: TransactionKind::Refund,
            amount: money.amount,
            currency: money.currency_code,
            occurred_at: r.created_at,
            status: None,
            reference: Some(order.name.clone()),
            lines: Vec::new(),
        }
    }));
    out
}

socialcrm_sdk::export_source!(Shopify);
