//! socialcrm: a Social CRM whose social networks and analytics are sandboxed
//! WebAssembly component plugins.

pub mod app;
pub mod channels;
pub mod cli;
pub mod conformance;
pub mod credentials;
pub mod crm;
mod demo;
pub mod egress;
pub mod events;
#[cfg(test)]
mod fuzz;
pub mod ingest;
pub mod insights;
pub mod metrics;
pub mod plugins;
pub mod privacy;
pub mod reanalysis;
pub mod replies;
pub mod responses;
pub mod retention;
/// The plugin sandbox, a crate of its own (`socialcrm-sandbox`).
pub use socialcrm_sandbox as runtime;
pub mod scaffold;
pub mod secrets;
pub mod server;
pub mod sources;
pub mod sso;
pub mod store;
pub mod tokens;
