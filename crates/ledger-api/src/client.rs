//! A client of the Ledger API (what `orchestra ledger find|get|watch` and agent frameworks use).

use std::pin::Pin;

use futures::{Stream, StreamExt};
use orchestra_ledger_store::ChangeEvent;
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorBody};
use crate::views::{
    ChangesPage, EntryProofView, FindResult, HistoryView, RootView, SchemaView, SubnetList, SubnetView, WebhookCreated,
    WebhookRequest, WebhookView,
};

/// A live stream of change events from `watch`.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<ChangeEvent, ApiError>> + Send>>;

/// Ledger API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LedgerClient {
    base: Url,
    key: Option<String>,
    http: reqwest::Client,
}

impl LedgerClient {
    /// `base_url` like `http://127.0.0.1:8090`; `key` is sent as `Authorization: Bearer`.
    pub fn new(base_url: &str, key: Option<String>) -> Result<Self, ApiError> {
        let mut base =
            Url::parse(base_url).map_err(|e| ApiError::bad("bad_url", format!("Ledger API url `{base_url}`: {e}")))?;
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("orchestra-ledger-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Config(format!("HTTP client: {e}")))?;
        Ok(LedgerClient { base, key, http })
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

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let rb = self.http.request(method, url);
        match &self.key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        }
    }

    async fn check(resp: reqwest::Response) -> Result<reqwest::Response, ApiError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => ApiError::Remote { status: status.as_u16(), code: b.code, message: b.error },
            Err(_) => ApiError::Remote { status: status.as_u16(), code: "http".into(), message: text },
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, ApiError> {
        let resp = Self::check(self.request(Method::GET, self.url(path, query)?).send().await?).await?;
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(format!("{path}: {e}")))
    }

    /// Every entry.
    pub async fn list(&self) -> Result<SubnetList, ApiError> {
        self.get_json("v1/subnets", &[]).await
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
        let resp =
            Self::check(self.request(Method::POST, self.url("v1/webhooks", &[])?).json(req).send().await?).await?;
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(format!("webhook: {e}")))
    }

    pub async fn webhook(&self, id: &str) -> Result<WebhookView, ApiError> {
        self.get_json(&format!("v1/webhooks/{id}"), &[]).await
    }

    pub async fn delete_webhook(&self, id: &str) -> Result<(), ApiError> {
        Self::check(self.request(Method::DELETE, self.url(&format!("v1/webhooks/{id}"), &[])?).send().await?).await?;
        Ok(())
    }

    /// Live change events over SSE (production tier), after `since` or from now on. The
    /// stream ends when the server closes it; resume with the last `seq` seen.
    pub async fn watch(&self, since: Option<u64>) -> Result<EventStream, ApiError> {
        let q: Vec<(&str, String)> = since.map(|s| vec![("since", s.to_string())]).unwrap_or_default();
        let resp = Self::check(
            self.request(Method::GET, self.url("v1/changes", &q)?)
                .header(reqwest::header::ACCEPT, "text/event-stream")
                .send()
                .await?,
        )
        .await?;
        let bytes = resp.bytes_stream();
        let parser = SseParser::default();
        let s = futures::stream::unfold((bytes, parser), |(mut bytes, mut parser)| async move {
            loop {
                if let Some(ev) = parser.next_event() {
                    return Some((ev, (bytes, parser)));
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => parser.push(&chunk),
                    Some(Err(e)) => return Some((Err(ApiError::Transport(e)), (bytes, parser))),
                    None => return None,
                }
            }
        });
        Ok(Box::pin(s))
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
