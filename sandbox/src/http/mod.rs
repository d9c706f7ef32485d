//! Outgoing HTTP of plugins: every request a guest makes through
//! `wasi:http/outgoing-handler` passes the [`hooks`] (allowed hosts, credentials,
//! caps, the request log) and leaves through a [`Transport`].

mod credential;
mod fill;
mod hooks;
mod origin;
mod refresh;
mod transport;

pub use credential::{Credential, CredentialRoute, CredentialRule};
pub use fill::{FillRule, SecretFill};
pub(crate) use hooks::OutgoingHooks;
pub use hooks::{HttpPolicy, RequestRecord};
pub use origin::{AllowedOrigin, OriginError, is_public};
pub use refresh::Refresh;
pub use transport::{
    HttpRequest, HttpResponse, NetworkTransport, SendOptions, Transport, TransportError, TransportFuture,
};
