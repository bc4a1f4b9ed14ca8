//! The change feed over Server-Sent Events.
//!
//! Each committed change event is serialized once into an SSE frame (`id: <seq>`, `event:
//! <kind>`, `data: <json>`) and fanned out through a tokio broadcast channel; a subscriber's
//! stream only clones a reference-counted buffer per event, which is what lets one change reach
//! a thousand subscribers quickly. A subscriber that falls behind the channel (or that asked
//! for history with `since` / `Last-Event-ID`) is caught up from the store, so no event is
//! skipped: any gap in sequence numbers triggers a read of the missing range.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use orchestra_ledger_store::ChangeEvent;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::Inner;
use crate::error::ApiError;

/// One pre-serialized event.
#[derive(Debug)]
pub(crate) struct Frame {
    pub seq: u64,
    pub bytes: Bytes,
}

pub(crate) fn frame(ev: &ChangeEvent) -> Result<Frame, ApiError> {
    let data = serde_json::to_string(ev).map_err(|e| ApiError::Internal(format!("serialize event: {e}")))?;
    Ok(Frame {
        seq: ev.seq,
        bytes: Bytes::from(format!("id: {}\nevent: {}\ndata: {data}\n\n", ev.seq, ev.kind.as_str())),
    })
}

/// Events read from the store per catch-up step.
const CATCH_UP_PAGE: usize = 1000;

/// Decrements the subscriber gauge when the stream is dropped (the client went away).
struct Subscribed(Gauge);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.dec();
    }
}

struct State {
    inner: Arc<Inner>,
    rx: broadcast::Receiver<Arc<Frame>>,
    closing: CancellationToken,
    last: u64,
    backlog: VecDeque<Bytes>,
    keepalive: tokio::time::Interval,
    _guard: Subscribed,
}

impl State {
    /// Queue events after `self.last` from the store (up to one page).
    fn catch_up(&mut self) -> Result<(), ApiError> {
        for ev in self.inner.store.changes_since(self.last, CATCH_UP_PAGE)? {
            let f = frame(&ev)?;
            self.last = f.seq;
            self.backlog.push_back(f.bytes);
        }
        Ok(())
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(b) = self.backlog.pop_front() {
                return Some(b);
            }
            if self.closing.is_cancelled() {
                return None;
            }
            // History longer than one page: keep reading until the stream reaches the live feed.
            if self.last < self.inner.broadcast_seq() {
                if let Err(e) = self.catch_up() {
                    tracing::warn!(error = %e, "SSE catch-up failed; closing the stream");
                    return None;
                }
                if !self.backlog.is_empty() {
                    continue;
                }
            }
            tokio::select! {
                _ = self.closing.cancelled() => return None,
                r = self.rx.recv() => match r {
                    Ok(f) if f.seq <= self.last => continue,
                    Ok(f) if f.seq == self.last + 1 => {
                        self.last = f.seq;
                        return Some(f.bytes.clone());
                    }
                    // A gap (history still to send, or missed frames): read it from the store.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Err(e) = self.catch_up() {
                            tracing::warn!(error = %e, "SSE catch-up failed; closing the stream");
                            return None;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.keepalive.tick() => return Some(Bytes::from_static(b": keepalive\n\n")),
            }
        }
    }
}

/// Start a stream of events after `since` (`None`: only events from now on).
pub(crate) fn stream(inner: Arc<Inner>, since: Option<u64>) -> Result<Response, ApiError> {
    // Subscribe before reading where the feed stands, so nothing falls between the two.
    let rx = inner.events.subscribe();
    let now = inner.broadcast_seq();
    let last = since.unwrap_or(now);
    let gauge = inner.metrics.sse_subscribers.clone();
    gauge.inc();
    let keepalive_every = inner.config.sse_keepalive.max(Duration::from_millis(100));
    let mut st = State {
        closing: inner.closing.clone(),
        rx,
        last,
        backlog: VecDeque::new(),
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + keepalive_every, keepalive_every),
        inner,
        _guard: Subscribed(gauge),
    };
    // The reconnection delay hint goes first; it also flushes the headers to the client.
    st.backlog.push_back(Bytes::from_static(b"retry: 2000\n\n"));
    if last < now {
        st.catch_up()?;
    }
    let body = futures::stream::unfold(st, |mut st| async move {
        let b = st.next().await?;
        Some((Ok::<Bytes, Infallible>(b), st))
    });
    let mut resp = Body::from_stream(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tell reverse proxies (nginx) not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(resp)
}
