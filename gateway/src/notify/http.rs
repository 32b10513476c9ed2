//! A small HTTP(S) client for the webhook, group-robot and SMS channels: hyper with rustls on
//! the workspace's one crypto provider (ring) and the Mozilla roots (webpki-roots), so the hub
//! needs no system certificate store.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::SendError;

/// Bytes of a receiver's answer read (the rest is not needed to judge it).
const ANSWER_MAX: usize = 64 * 1024;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body, at most 64 KiB, lossy UTF-8.
    pub body: String,
}

/// A pooled HTTP/1.1 client; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// A client whose connections time out after `connect`.
    pub fn new(connect: Duration) -> Result<Self, rustls::Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(8)
            .build(https);
        Ok(HttpClient { client })
    }

    /// POSTs `body` and reads the answer. The caller bounds the time.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, SendError> {
        let mut request = Request::post(url)
            .header(CONTENT_TYPE, content_type)
            .header(USER_AGENT, concat!("linli/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| SendError::Request(format!("header {name}: {e}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| SendError::Request(format!("header {name}: {e}")))?;
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| SendError::Request(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| SendError::Connection(error_chain(&e)))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), ANSWER_MAX)
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        Ok(Answer { status, body })
    }
}

/// `error: cause: cause`, so that "connection refused" is not hidden behind "client error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
