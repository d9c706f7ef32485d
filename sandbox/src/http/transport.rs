//! How an allowed request leaves the host. [`NetworkTransport`] resolves the
//! name, refuses private addresses, and connects to the address it checked (so
//! DNS cannot change the answer in between); tests plug in canned transports.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use http_body_util::{BodyExt, Full, Limited};
use tokio::net::TcpStream;

use super::origin::is_public;

/// A request as the host sends it: credentials attached, body buffered.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A response, with its body read in full (within the size cap).
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Options the host sets for one request.
#[derive(Clone, Copy, Debug)]
pub struct SendOptions {
    pub allow_private: bool,
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("refused: {0}")]
    Refused(String),
    #[error("no address found for {0}")]
    NotFound(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("response body over the {0}-byte cap")]
    TooLarge(usize),
    #[error("HTTP: {0}")]
    Protocol(String),
}

pub type TransportFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send>>;

/// Sends requests that the policy has allowed.
pub trait Transport: Send + Sync + 'static {
    fn send(&self, request: HttpRequest, options: SendOptions) -> TransportFuture;
}

/// Real HTTP/1.1 over TCP, with TLS for `https`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetworkTransport;

impl Transport for NetworkTransport {
    fn send(&self, request: HttpRequest, options: SendOptions) -> TransportFuture {
        Box::pin(async move {
            tokio::time::timeout(options.timeout, send(request, options))
                .await
                .map_err(|_| TransportError::Timeout(options.timeout))?
        })
    }
}

async fn send(request: HttpRequest, options: SendOptions) -> Result<HttpResponse, TransportError> {
    let host = request
        .uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let https = request.uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = request.uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let addr = resolve(&host, port, options.allow_private).await?;
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| TransportError::Connect(format!("{addr}: {e}")))?;
    let path = request.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut outgoing = http::Request::builder()
        .method(request.method)
        .uri(path)
        .body(Full::new(request.body))
        .map_err(|e| TransportError::Protocol(e.to_string()))?;
    *outgoing.headers_mut() = request.headers;
    if https {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| TransportError::Tls(format!("bad server name {host}: {e}")))?;
        let tls = tls_connector()?
            .connect(name, tcp)
            .await
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        exchange(tls, outgoing, options.max_response_bytes).await
    } else {
        exchange(tcp, outgoing, options.max_response_bytes).await
    }
}

async fn resolve(host: &str, port: u16, allow_private: bool) -> Result<SocketAddr, TransportError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| TransportError::NotFound(format!("{host}: {e}")))?
        .collect();
    let first = addrs
        .first()
        .copied()
        .ok_or_else(|| TransportError::NotFound(host.to_string()))?;
    if allow_private {
        return Ok(first);
    }
    addrs.into_iter().find(|a| is_public(a.ip())).ok_or_else(|| {
        TransportError::Refused(format!(
            "{host} resolves to {}, a private or loopback address",
            first.ip()
        ))
    })
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, TransportError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
    });
    config
        .clone()
        .map(tokio_rustls::TlsConnector::from)
        .map_err(TransportError::Tls)
}

async fn exchange<S>(
    stream: S,
    request: http::Request<Full<Bytes>>,
    max_response_bytes: usize,
) -> Result<HttpResponse, TransportError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let io = wasmtime_wasi_http::io::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| TransportError::Protocol(e.to_string()))?;
    let conn = tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| TransportError::Protocol(e.to_string()))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, max_response_bytes).collect().await.map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() {
            TransportError::TooLarge(max_response_bytes)
        } else {
            TransportError::Protocol(e.to_string())
        }
    })?;
    conn.abort();
    Ok(HttpResponse {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.to_bytes(),
    })
}
