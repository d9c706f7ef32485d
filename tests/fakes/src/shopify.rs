//! A fake Shopify GraphQL Admin API (<https://shopify.dev/docs/api/admin-graphql>,
//! version 2025-01): `POST /admin/api/2025-01/graphql.json` with the token in
//! `X-Shopify-Access-Token`, answering the `shop`, `customers`, `orders` and
//! `events` queries in the documented shapes: connections with `nodes` and
//! `pageInfo { hasNextPage endCursor }` (`first`, `after`), the search
//! syntax `updated_at:>='TIME'` / `created_at:>='TIME'`, and every answer's
//! `extensions.cost` with its `throttleStatus`. Tests change the shop
//! (customers, orders, deletions) and inject faults into the next requests.
//!
//! It reads which query it got from the query text (the root field), and
//! its arguments from `variables`, as the plugin sends them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::server::Server;

/// The only access token the fake accepts.
pub const TOKEN: &str = "shpat_fake_token";
/// The API version the fake serves.
pub const VERSION: &str = "2025-01";
/// The cost bucket: Shopify's standard plan.
const MAXIMUM_AVAILABLE: f64 = 2000.0;
const RESTORE_RATE: f64 = 100.0;

/// A customer of the shop.
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    /// The number in `gid://shopify/Customer/N`.
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub updated_at: String,
}

/// An order of a customer, with its line items and refunds.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub id: u64,
    pub customer: Option<u64>,
    /// `#1001`.
    pub name: String,
    pub total: String,
    pub currency: String,
    pub created_at: String,
    pub updated_at: String,
    pub financial_status: String,
    /// (sku, name, quantity, line total).
    pub lines: Vec<(String, String, u32, String)>,
    /// (id, created at, amount).
    pub refunds: Vec<(u64, String, String)>,
}

/// A failure injected into the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That HTTP status with a JSON error body.
    Status(u16),
    /// 200 with a `THROTTLED` error, the bucket holding `available` points.
    Throttled { available: u32 },
}

pub fn customer_gid(id: u64) -> String {
    format!("gid://shopify/Customer/{id}")
}

pub fn order_gid(id: u64) -> String {
    format!("gid://shopify/Order/{id}")
}

#[derive(Default)]
struct Shop {
    customers: Vec<Customer>,
    orders: Vec<Order>,
    /// (customer id, deleted at).
    deleted: Vec<(u64, String)>,
    /// What the next requests meet, in order (`None`: the request is served).
    faults: VecDeque<Option<Fault>>,
    /// The root field of every query answered or refused, in order.
    queries: Vec<String>,
}

pub struct FakeShopify {
    server: Server,
    shop: Arc<Mutex<Shop>>,
}

impl FakeShopify {
    pub async fn start() -> anyhow::Result<FakeShopify> {
        let shop = Arc::new(Mutex::new(Shop::default()));
        let state = shop.clone();
        let (server, ()) = Server::start("the fake Shopify", move |_| {
            let path = format!("/admin/api/{VERSION}/graphql.json");
            Ok((Router::new().route(&path, post(graphql)).with_state(state), ()))
        })
        .await?;
        Ok(FakeShopify { server, shop })
    }

    /// The shop's address, the plugin's `shop` config.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    fn shop(&self) -> MutexGuard<'_, Shop> {
        self.shop.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds or replaces (by id) a customer.
    pub fn put_customer(&self, customer: Customer) {
        let mut shop = self.shop();
        shop.customers.retain(|c| c.id != customer.id);
        shop.customers.push(customer);
    }

    /// Adds or replaces (by id) an order.
    pub fn put_order(&self, order: Order) {
        let mut shop = self.shop();
        shop.orders.retain(|o| o.id != order.id);
        shop.orders.push(order);
    }

    /// Deletes customer `id` at `at`, recording the `destroy` event.
    pub fn delete_customer(&self, id: u64, at: &str) {
        let mut shop = self.shop();
        shop.customers.retain(|c| c.id != id);
        shop.deleted.push((id, at.to_string()));
    }

    /// Makes the next request fail with `fault` (after those queued before).
    pub fn fail_next(&self, fault: Fault) {
        self.shop().faults.push_back(Some(fault));
    }

    /// Serves the next request (after those queued before): with
    /// [`Self::fail_next`], a failure at the Nth request.
    pub fn pass_next(&self) {
        self.shop().faults.push_back(None);
    }

    /// The root fields of the queries received, in order.
    pub fn queries(&self) -> Vec<String> {
        self.shop().queries.clone()
    }
}

fn cost(requested: f64, available: f64) -> Value {
    json!({
        "requestedQueryCost": requested,
        "actualQueryCost": if available >= requested { Some(requested) } else { None },
        "throttleStatus": {
            "maximumAvailable": MAXIMUM_AVAILABLE,
            "currentlyAvailable": available,
            "restoreRate": RESTORE_RATE,
        }
    })
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "errors": message }))).into_response()
}

/// The root field a query selects (`customers`, `orders`, `events`, `shop`).
fn root_field(query: &str) -> String {
    let body = query.split_once('{').map_or("", |(_, rest)| rest);
    body.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// `field:>='TIME'` of a search query, if it has one.
fn since(search: Option<&str>, field: &str) -> Option<String> {
    let prefix = format!("{field}:>='");
    let start = search?.find(&prefix)? + prefix.len();
    let rest = &search?[start..];
    rest.find('\'').map(|end| rest[..end].to_string())
}

/// One page of `items` (already filtered, in order) after the cursor `after`.
fn connection(items: Vec<Value>, variables: &Value) -> Value {
    let first = variables["first"].as_u64().unwrap_or(50).clamp(1, 250) as usize;
    let start = variables["after"]
        .as_str()
        .and_then(|c| c.strip_prefix("cursor:"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (start + first).min(items.len());
    let nodes: Vec<Value> = items.get(start..end).map(<[Value]>::to_vec).unwrap_or_default();
    json!({
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": end < items.len(),
            "endCursor": if end > start { Some(format!("cursor:{end}")) } else { None },
        }
    })
}

fn money(amount: &str, currency: &str) -> Value {
    json!({ "shopMoney": { "amount": amount, "currencyCode": currency } })
}

async fn graphql(AxumState(shop): AxumState<Arc<Mutex<Shop>>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()) != Some(TOKEN) {
        return error(
            StatusCode::UNAUTHORIZED,
            "[API] Invalid API key or access token (unrecognized login or wrong password)",
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Bad Request");
    };
    let query = request["query"].as_str().unwrap_or_default();
    let variables = &request["variables"];
    let field = root_field(query);
    let mut shop = shop.lock().unwrap_or_else(PoisonError::into_inner);
    shop.queries.push(field.clone());
    match shop.faults.pop_front().flatten() {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "Internal Server Error");
        }
        Some(Fault::Throttled { available }) => {
            let body = json!({
                "errors": [{
                    "message": "Throttled",
                    "extensions": { "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits" }
                }],
                "extensions": { "cost": cost(752.0, f64::from(available)) },
            });
            return axum::Json(body).into_response();
        }
        None => {}
    }
    let search = variables["query"].as_str();
    let data = match field.as_str() {
        "shop" => json!({ "shop": { "name": "Acme Shop" } }),
        "customers" => {
            let from = since(search, "updated_at");
            let mut customers: Vec<&Customer> = shop
                .customers
                .iter()
                .filter(|c| from.as_deref().is_none_or(|s| c.updated_at.as_str() >= s))
                .collect();
            customers.sort_by(|a, b| (&a.updated_at, a.id).cmp(&(&b.updated_at, b.id)));
            let nodes = customers
                .into_iter()
                .map(|c| {
                    json!({
                        "id": customer_gid(c.id),
                        "firstName": c.first_name,
                        "lastName": c.last_name,
                        "email": c.email,
                        "phone": c.phone,
                        "updatedAt": c.updated_at,
                        "defaultAddress": c.company.as_ref().map(|company| json!({ "company": company })),
                        "note": null,
                        "tags": [],
                    })
                })
                .collect();
            json!({ "customers": connection(nodes, variables) })
        }
        "orders" => {
            let from = since(search, "updated_at");
            let mut orders: Vec<&Order> = shop
                .orders
                .iter()
                .filter(|o| from.as_deref().is_none_or(|s| o.updated_at.as_str() >= s))
                .collect();
            orders.sort_by(|a, b| (&a.updated_at, a.id).cmp(&(&b.updated_at, b.id)));
            let nodes = orders
                .into_iter()
                .map(|o| {
                    let lines: Vec<Value> = o
                        .lines
                        .iter()
                        .enumerate()
                        .map(|(i, (sku, name, quantity, total))| {
                            json!({
                                "id": format!("gid://shopify/LineItem/{}{i}", o.id),
                                "sku": sku,
                                "name": name,
                                "quantity": quantity,
                                "originalTotalSet": money(total, &o.currency),
                            })
                        })
                        .collect();
                    let refunds: Vec<Value> = o
                        .refunds
                        .iter()
                        .map(|(id, at, amount)| {
                            json!({
                                "id": format!("gid://shopify/Refund/{id}"),
                                "createdAt": at,
                                "totalRefundedSet": money(amount, &o.currency),
                            })
                        })
                        .collect();
                    json!({
                        "id": order_gid(o.id),
                        "name": o.name,
                        "createdAt": o.created_at,
                        "displayFinancialStatus": o.financial_status,
                        "customer": o.customer.map(|c| json!({ "id": customer_gid(c) })),
                        "totalPriceSet": money(&o.total, &o.currency),
                        "lineItems": { "nodes": lines },
                        "refunds": refunds,
                    })
                })
                .collect();
            json!({ "orders": connection(nodes, variables) })
        }
        "events" => {
            let from = since(search, "created_at");
            let wants_destroys =
                search.is_some_and(|s| s.contains("action:destroy") && s.contains("subject_type:CUSTOMER"));
            let nodes = shop
                .deleted
                .iter()
                .filter(|(_, at)| wants_destroys && from.as_deref().is_none_or(|s| at.as_str() >= s))
                .enumerate()
                .map(|(i, (id, at))| {
                    json!({
                        "id": format!("gid://shopify/BasicEvent/{}", 9000 + i),
                        "createdAt": at,
                        "action": "destroy",
                        "subjectId": customer_gid(*id),
                        "subjectType": "CUSTOMER",
                    })
                })
                .collect();
            json!({ "events": connection(nodes, variables) })
        }
        other => {
            let body = json!({
                "errors": [{ "message": format!("Field '{other}' doesn't exist on type 'QueryRoot'") }],
            });
            return axum::Json(body).into_response();
        }
    };
    axum::Json(json!({ "data": data, "extensions": { "cost": cost(12.0, MAXIMUM_AVAILABLE - 12.0) } })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_field_and_the_since_of_a_search_are_read() {
        assert_eq!(
            root_field("query Customers($first: Int!) {\n  customers(first: $first) {"),
            "customers"
        );
        assert_eq!(root_field("query { shop { name } }"), "shop");
        let search = Some("subject_type:CUSTOMER AND action:destroy AND created_at:>='2026-01-01T00:00:00Z'");
        assert_eq!(since(search, "created_at").as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(since(search, "updated_at"), None);
    }
}
