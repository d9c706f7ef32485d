//! socialcrm: a Social CRM whose social networks and analytics are sandboxed
//! WebAssembly component plugins.

pub mod channels;
pub mod cli;
pub mod conformance;
pub mod crm;
mod demo;
pub mod ingest;
pub mod insights;
pub mod plugins;
pub mod replies;
pub mod runtime;
pub mod scaffold;
pub mod secrets;
pub mod server;
pub mod store;
