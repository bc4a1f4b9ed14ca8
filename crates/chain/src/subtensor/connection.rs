//! The connection to a subtensor node: one WebSocket (jsonrpsee) with subxt's legacy backend,
//! opened with exponential backoff, reopened by one task when it drops, and reads retried once
//! on a fresh connection.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use subxt::OnlineClient;
use subxt::backend::LegacyBackend;
use subxt::config::RpcConfigFor;
use subxt::rpcs::client::{JsonrpseeRpcClient, RpcClient, jsonrpsee_client};
use subxt::rpcs::methods::LegacyRpcMethods;

use super::{SubtensorChain, SubtensorConfig, SubtensorOptions};
use crate::ChainError;

/// One open connection.
#[derive(Clone)]
pub(super) struct Conn {
    pub(super) api: OnlineClient<SubtensorConfig>,
    pub(super) rpc: RpcClient,
    pub(super) ws: Arc<JsonrpseeRpcClient>,
}

impl Conn {
    pub(super) fn legacy(&self) -> LegacyRpcMethods<RpcConfigFor<SubtensorConfig>> {
        LegacyRpcMethods::new(self.rpc.clone())
    }
}

impl SubtensorChain {
    /// The current connection, reopened first if the WebSocket is closed.
    pub(super) async fn conn(&self) -> Result<Conn, ChainError> {
        let conn = self.conn.read().await.clone();
        if conn.ws.is_connected() { Ok(conn) } else { self.reconnect().await }
    }

    pub(super) async fn reconnect(&self) -> Result<Conn, ChainError> {
        // One task reconnects; the others wait and then reuse its connection.
        let _guard = self.reconnecting.lock().await;
        let current = self.conn.read().await.clone();
        if current.ws.is_connected() {
            return Ok(current);
        }
        tracing::warn!(network = %self.network, "subtensor connection lost; reconnecting");
        let fresh = open_with_backoff(self.network.endpoint(), &self.config, &self.opts).await?;
        *self.conn.write().await = fresh.clone();
        Ok(fresh)
    }

    /// Runs a read with the request timeout; if it fails because the connection dropped, runs it
    /// once more on a fresh connection.
    pub(super) async fn read<T, F, Fut>(&self, what: &'static str, f: F) -> Result<T, ChainError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = Result<T, ChainError>>,
    {
        let conn = self.conn().await?;
        let first = tokio::time::timeout(self.opts.request_timeout, f(conn.clone())).await;
        match first {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if conn.ws.is_connected() => Err(e),
            Ok(Err(_)) => {
                let conn = self.reconnect().await?;
                tokio::time::timeout(self.opts.request_timeout, f(conn))
                    .await
                    .map_err(|_| ChainError::Timeout { what, after: self.opts.request_timeout })?
            }
            Err(_) => Err(ChainError::Timeout { what, after: self.opts.request_timeout }),
        }
    }
}

async fn open(endpoint: &str, config: &SubtensorConfig) -> Result<Conn, ChainError> {
    let conn_err =
        |e: &dyn fmt::Display| ChainError::Connection { endpoint: endpoint.to_string(), reason: e.to_string() };
    let ws = Arc::new(jsonrpsee_client(endpoint).await.map_err(|e| conn_err(&e))?);
    let rpc = RpcClient::new(ws.clone());
    // The legacy JSON-RPC methods only, as the Python SDK uses: public subtensor endpoints serve
    // them, and chainHead's follow subscriptions and block pinning add failure modes we gain
    // nothing from. It is also the path the mock-node tests exercise.
    let backend = Arc::new(LegacyBackend::builder().build(rpc.clone()));
    let api = OnlineClient::from_backend_with_config(config.clone(), backend).await.map_err(|e| conn_err(&e))?;
    Ok(Conn { api, rpc, ws })
}

/// Opens a connection, retrying with exponential backoff up to `reconnect_attempts` times.
pub(super) async fn open_with_backoff(
    endpoint: &str,
    config: &SubtensorConfig,
    opts: &SubtensorOptions,
) -> Result<Conn, ChainError> {
    let backoff = orchestra_proto::retry::Backoff::new(opts.reconnect_backoff, opts.reconnect_backoff_max);
    let mut attempt = 0u32;
    loop {
        match open(endpoint, config).await {
            Ok(c) => return Ok(c),
            Err(e) if attempt >= opts.reconnect_attempts => return Err(e),
            Err(e) => {
                attempt += 1;
                let delay = backoff.nominal(attempt);
                tracing::warn!(endpoint, attempt, error = %e, retry_in = ?delay, "cannot connect to subtensor");
                tokio::time::sleep(delay).await;
            }
        }
    }
}
