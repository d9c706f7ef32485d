//! Downloads for indexes: a GET through the sandbox's network transport
//! (HTTP/1.1, rustls with the webpki roots), with a size cap and a deadline.
//! Redirects are not followed. Loopback and private addresses are allowed:
//! the index URL is the admin's own, and package URLs come from an index
//! whose signature verified.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri, header};
use url::Url;

use super::IndexError;
use crate::plugins::package::MAX_PACKAGE_BYTES;
use crate::runtime::http::{HttpRequest, NetworkTransport, SendOptions, Transport};

/// How much a download may take.
#[derive(Clone, Copy, Debug)]
pub struct FetchLimits {
    /// Bytes of an index file.
    pub index_bytes: usize,
    /// Bytes of a package file (an index entry's `size` lowers it).
    pub package_bytes: usize,
    /// Deadline of one download, connection included.
    pub timeout: Duration,
}

impl Default for FetchLimits {
    fn default() -> FetchLimits {
        FetchLimits {
            index_bytes: 8 << 20,
            // The package reader's cap plus the archive's headers.
            package_bytes: (MAX_PACKAGE_BYTES + (1 << 20)) as usize,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Checks that `url` is an absolute http or https URL.
pub fn parse_url(url: &str) -> Result<Url, IndexError> {
    let parsed = Url::parse(url).map_err(|e| IndexError::Invalid(format!("`{url}`: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(IndexError::Invalid(format!(
            "`{url}`: an index is fetched over http or https"
        )));
    }
    Ok(parsed)
}

/// The body of a `200` answer to a GET of `url`, at most `max_bytes` long.
pub async fn get(url: &Url, max_bytes: usize, timeout: Duration) -> Result<Bytes, IndexError> {
    let failed = |reason: String| IndexError::Fetch {
        url: url.to_string(),
        reason,
    };
    let uri: Uri = url
        .as_str()
        .parse()
        .map_err(|e: http::uri::InvalidUri| failed(e.to_string()))?;
    let mut headers = HeaderMap::new();
    // hyper's bare connection does not add Host itself.
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    headers.insert(
        header::HOST,
        HeaderValue::from_str(&host).map_err(|e| failed(e.to_string()))?,
    );
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(concat!("socialcrm/", env!("CARGO_PKG_VERSION"))),
    );
    let request = HttpRequest {
        method: Method::GET,
        uri,
        headers,
        body: Bytes::new(),
    };
    let options = SendOptions {
        allow_private: true,
        timeout,
        max_response_bytes: max_bytes,
    };
    let response = NetworkTransport
        .send(request, options)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if response.status != 200 {
        return Err(failed(format!("HTTP status {}", response.status)));
    }
    Ok(response.body)
}
