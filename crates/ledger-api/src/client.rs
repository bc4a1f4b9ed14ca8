//! A client of the Ledger API (what `orchestra ledger find|get|watch` and agent frameworks use).

use std::pin::Pin;

use std::time::Duration;

use futures::{Stream, StreamExt};
use orchestra_ledger_store::ChangeEvent;
use orchestra_net::guard::sanitize;
use orchestra_net::{GuardConfig, GuardedClient, GuardedResponse};
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorBody};
use crate::views::{
    ChangesPage, EntryProofView, FindResult, HistoryView, RootView, SchemaView, SubnetList, SubnetView, WebhookCreated,
    WebhookRequest, WebhookView,
};

/// A live stream of change events from `watch`.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<ChangeEvent, ApiError>> + Send>>;

/// Largest SSE event the watch stream buffers.
const MAX_SSE_EVENT: usize = 1024 * 1024;

/// Ledger API client. Cheap to clone.
///
/// Calls go through the guarded client of `orchestra_net::guard`: no redirects, a total time
/// cap (30 s by default), a response size cap (16 MiB by default) and TLS. The base URL is the
/// caller's own choice (a flag or a config file), so internal addresses are allowed by default;
/// [`LedgerClient::with_guard`] sets another policy. Error text from the server is bounded and
/// sanitized; a non-JSON error body is reported by status and length only.
#[derive(Debug, Clone)]
pub struct LedgerClient {
    base: Url,
    key: Option<String>,
    http: GuardedClient,
    /// For the SSE stream: no total time cap (it is long-lived), the same other policies.
    stream: GuardedClient,
}

impl LedgerClient {
    /// `base_url` like `http://127.0.0.1:8090`; `key` is sent as `Authorization: Bearer`.
    pub fn new(base_url: &str, key: Option<String>) -> Result<Self, ApiError> {
        let guard = GuardConfig {
            allow_private: true,
            max_response_bytes: 16 * 1024 * 1024,
            user_agent: concat!("orchestra-ledger-client/", env!("CARGO_PKG_VERSION")).to_string(),
            ..GuardConfig::default()
        };
        Self::with_guard(base_url, key, guard)
    }

    /// Like [`LedgerClient::new`] under an explicit network policy.
    pub fn with_guard(base_url: &str, key: Option<String>, guard: GuardConfig) -> Result<Self, ApiError> {
        let mut base = orchestra_net::guard::check_url(base_url, guard.allow_private)
            .map_err(|e| ApiError::bad("bad_url", format!("Ledger API url `{base_url}`: {e}")))?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let stream_guard = GuardConfig { timeout: Duration::from_secs(365 * 24 * 3600), ..guard.clone() };
        let http = GuardedClient::new(guard).map_err(|e| ApiError::Config(format!("HTTP client: {e}")))?;
        let stream = GuardedClient::new(stream_guard).map_err(|e| ApiError::Config(format!("HTTP client: {e}")))?;
        Ok(LedgerClient { base, key, http, stream })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, ApiError> {
        let mut u = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ApiError::bad("bad_url", format!("path `{path}`: {e}")))?;
        if !query.is_empty() {
            let mut q = u.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(u)
    }

    fn request_on(&self, client: &GuardedClient, method: Method, url: Url) -> Result<RequestBuilder, ApiError> {
        let rb = client.request(method, url.as_str())?;
        Ok(match &self.key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        })
    }

    fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, ApiError> {
        self.request_on(&self.http, method, url)
    }

    async fn send(&self, rb: RequestBuilder) -> Result<GuardedResponse, ApiError> {
        let resp = self.http.send(rb).await?;
        if resp.is_success() {
            return Ok(resp);
        }
        Err(remote_error(resp.status, &resp.body))
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, ApiError> {
        let resp = self.send(self.request(Method::GET, self.url(path, query)?)?).await?;
        serde_json::from_slice(&resp.body).map_err(|e| ApiError::Decode(format!("{path}: {e}")))
    }

    /// Every entry.
    pub async fn list(&self) -> Result<SubnetList, ApiError> {
        self.get_json("v1/subnets", &[]).await
    }

    /// Every entry in full, as a miner routes with them (`--ledger.file` holds this array).
    /// Needs a developer key or better: the free tier sees summaries only, which is refused
    /// here rather than returned as entries.
    pub async fn entries(&self) -> Result<(u64, Vec<orchestra_proto::ledger::LedgerEntry>), ApiError> {
        let list = self.list().await?;
        let mut out = Vec::with_capacity(list.subnets.len());
        for v in list.subnets {
            match v {
                SubnetView::Full(e) => out.push(*e),
                SubnetView::Summary(s) => {
                    return Err(ApiError::Decode(format!(
                        "netuid {} came back as a summary: full entries need a developer key or better",
                        s.netuid
                    )));
                }
            }
        }
        Ok((list.seq, out))
    }

    /// Entries offering `capability`, best first.
    pub async fn find(&self, capability: &str) -> Result<FindResult, ApiError> {
        self.get_json("v1/find", &[("capability", capability.to_string())]).await
    }

    /// One entry (full for developer keys and up, a summary otherwise).
    pub async fn get(&self, netuid: u16) -> Result<SubnetView, ApiError> {
        self.get_json(&format!("v1/subnets/{netuid}"), &[]).await
    }

    pub async fn schema(&self, netuid: u16) -> Result<SchemaView, ApiError> {
        self.get_json(&format!("v1/subnets/{netuid}/schema"), &[]).await
    }

    pub async fn history(&self, netuid: u16) -> Result<HistoryView, ApiError> {
        self.get_json(&format!("v1/subnets/{netuid}/history"), &[]).await
    }

    /// One page of the change feed after `since`.
    pub async fn changes(&self, since: u64, limit: Option<usize>) -> Result<ChangesPage, ApiError> {
        let mut q = vec![("since", since.to_string())];
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        self.get_json("v1/changes", &q).await
    }

    /// The root with every entry's proof.
    pub async fn root(&self) -> Result<RootView, ApiError> {
        self.get_json("v1/root", &[]).await
    }

    /// One entry's inclusion proof (with the entry for developer keys and up).
    pub async fn proof(&self, netuid: u16) -> Result<EntryProofView, ApiError> {
        self.get_json("v1/root", &[("netuid", netuid.to_string())]).await
    }

    pub async fn create_webhook(&self, req: &WebhookRequest) -> Result<WebhookCreated, ApiError> {
        let resp = self.send(self.request(Method::POST, self.url("v1/webhooks", &[])?)?.json(req)).await?;
        serde_json::from_slice(&resp.body).map_err(|e| ApiError::Decode(format!("webhook: {e}")))
    }

    pub async fn webhook(&self, id: &str) -> Result<WebhookView, ApiError> {
        self.get_json(&format!("v1/webhooks/{id}"), &[]).await
    }

    pub async fn delete_webhook(&self, id: &str) -> Result<(), ApiError> {
        self.send(self.request(Method::DELETE, self.url(&format!("v1/webhooks/{id}"), &[])?)?).await?;
        Ok(())
    }

    /// Prices of the tiers sold for TAO.
    pub async fn key_prices(&self) -> Result<crate::payments::PricesView, ApiError> {
        self.get_json("v1/keys/prices", &[]).await
    }

    /// Ask for a quote for a key paid in TAO.
    pub async fn key_quote(&self, req: &crate::payments::QuoteRequest) -> Result<crate::payments::QuoteView, ApiError> {
        let resp = self.send(self.request(Method::POST, self.url("v1/keys/quote", &[])?)?.json(req)).await?;
        serde_json::from_slice(&resp.body).map_err(|e| ApiError::Decode(format!("quote: {e}")))
    }

    /// Present the payment of a quote.
    pub async fn key_redeem(
        &self,
        req: &crate::payments::RedeemRequest,
    ) -> Result<crate::payments::RedeemView, ApiError> {
        let resp = self.send(self.request(Method::POST, self.url("v1/keys/redeem", &[])?)?.json(req)).await?;
        serde_json::from_slice(&resp.body).map_err(|e| ApiError::Decode(format!("redeem: {e}")))
    }

    /// Live change events over SSE (production tier), after `since` or from now on. The
    /// stream ends when the server closes it; resume with the last `seq` seen.
    pub async fn watch(&self, since: Option<u64>) -> Result<EventStream, ApiError> {
        let q: Vec<(&str, String)> = since.map(|s| vec![("since", s.to_string())]).unwrap_or_default();
        let rb = self
            .request_on(&self.stream, Method::GET, self.url("v1/changes", &q)?)?
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let resp = self.stream.send_streaming(rb).await?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let body = orchestra_net::guard::read_capped(resp, 64 * 1024, Duration::from_secs(10)).await?;
            return Err(remote_error(status, &body));
        }
        let bytes = resp.bytes_stream();
        let parser = SseParser::default();
        let s = futures::stream::unfold((bytes, parser, false), |(mut bytes, mut parser, done)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(ev) = parser.next_event() {
                    return Some((ev, (bytes, parser, false)));
                }
                // An event that never ends must not grow the buffer without bound.
                if parser.buffered() > MAX_SSE_EVENT {
                    let e = ApiError::from(orchestra_net::GuardError::TooLarge { limit: MAX_SSE_EVENT });
                    return Some((Err(e), (bytes, parser, true)));
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => parser.push(&chunk),
                    Some(Err(e)) => return Some((Err(ApiError::Transport(e)), (bytes, parser, true))),
                    None => return None,
                }
            }
        });
        Ok(Box::pin(s))
    }
}

/// A server's error answer as an error: its JSON `{error, code}` bounded and sanitized, or (for
/// anything else) the status and length only, never the raw body.
fn remote_error(status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => ApiError::Remote { status, code: sanitize(&b.code, 64), message: sanitize(&b.error, 300) },
        Err(_) => {
            ApiError::Remote { status, code: "http".into(), message: format!("HTTP {status}, {} bytes", body.len()) }
        }
    }
}

/// Incremental parser of `text/event-stream` that yields the `data` of each event as a
/// [`ChangeEvent`] (comments, `retry` and `id` lines are skipped).
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes waiting for the end of an event.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn take_block(&mut self) -> Option<Vec<u8>> {
        // Events end at a blank line; accept \n\n and \r\n\r\n.
        let pos = self.buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
        let pos_crlf = self.buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| (p, 4));
        let (p, n) = match (pos, pos_crlf) {
            (Some(a), Some(b)) => {
                if a.0 <= b.0 {
                    a
                } else {
                    b
                }
            }
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return None,
        };
        let block = self.buf[..p].to_vec();
        self.buf.drain(..p + n);
        Some(block)
    }

    pub fn next_event(&mut self) -> Option<Result<ChangeEvent, ApiError>> {
        while let Some(block) = self.take_block() {
            let text = String::from_utf8_lossy(&block);
            let mut data = String::new();
            for line in text.lines() {
                if let Some(d) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            if data.is_empty() {
                continue;
            }
            return Some(serde_json::from_str(&data).map_err(|e| ApiError::Decode(format!("SSE event: {e}"))));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's error text is bounded and sanitized; a non-JSON error body is never copied.
    #[test]
    fn remote_errors_never_copy_raw_bodies() {
        let e = remote_error(502, b"<html>SECRET upstream page</html>");
        assert_eq!(e.to_string(), "server answered 502: HTTP 502, 33 bytes (http)");
        let long = format!("{{\"error\": \"{}\\u001b[31m\", \"code\": \"bad\"}}", "x".repeat(1000));
        let ApiError::Remote { message, code, .. } = remote_error(400, long.as_bytes()) else { panic!("remote") };
        assert_eq!(code, "bad");
        assert!(message.chars().count() <= 301 && !message.contains('\u{1b}'), "{message}");
    }

    #[test]
    fn sse_parser_handles_split_chunks_and_comments() {
        let mut p = SseParser::default();
        p.push(b"retry: 2000\n\n: keepalive\n\nid: 1\nevent: entry_created\ndata: {\"seq\":1,\"at_ms\":5,");
        assert!(p.next_event().is_none());
        p.push(b"\"kind\":\"entry_created\",\"netuid\":3,\"actor\":\"seed\"}\n\n");
        let ev = p.next_event().expect("event").expect("parsed");
        assert_eq!((ev.seq, ev.netuid), (1, Some(3)));
        assert!(p.next_event().is_none());
    }
}
