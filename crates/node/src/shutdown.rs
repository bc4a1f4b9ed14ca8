//! The one shutdown model of every long-running process (both daemons, the Ledger server, the
//! devnet, the simulated subnets, localnet): a [`CancellationToken`] says "stop", a
//! [`TaskTracker`] knows which tasks must finish before the process exits, and [`signal`] is the
//! one place that turns Ctrl-C or SIGTERM into that "stop".
//!
//! The pattern:
//!
//! ```ignore
//! let shutdown = orchestra_node::shutdown::on_signal(); // cancelled on Ctrl-C / SIGTERM
//! let tasks = TaskTracker::new();
//! tasks.spawn(worker(shutdown.clone()));                   // loops select on shutdown.cancelled()
//! server.serve(listener, shutdown.clone().cancelled_owned()).await?;
//! tasks.close();
//! tasks.wait().await;
//! ```
//!
//! Libraries take the token (or, for a server's graceful shutdown, `token.cancelled_owned()`);
//! only binaries call [`signal`] or [`on_signal`].

pub use tokio_util::sync::CancellationToken;
pub use tokio_util::task::TaskTracker;

/// Resolves on Ctrl-C or SIGTERM (systemd and pm2 stop services with SIGTERM).
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// A token cancelled on the first Ctrl-C or SIGTERM (needs a tokio runtime).
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        signal().await;
        tracing::info!("shutdown requested");
        cancel.cancel();
    });
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tracked_tasks_finish_after_cancel() {
        let token = CancellationToken::new();
        let tasks = TaskTracker::new();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..3 {
            let (t, d) = (token.clone(), done.clone());
            tasks.spawn(async move {
                t.cancelled().await;
                d.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        tasks.close();
        token.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), tasks.wait()).await.expect("tasks finish");
        assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
