//! localnet's process supervisor and its named steps.
//!
//! [`Supervisor`] starts child processes (stdout and stderr to `LOGS/NAME.log`, or stdout read
//! for a typed ready line, see [`crate::ready`]), reports a child that exits while it should be
//! running ([`Exits`]), and stops them all: SIGTERM, a grace period, then SIGKILL. Children are
//! also killed if the supervisor is dropped without [`Supervisor::stop`] (an error, a panic), so
//! none outlive localnet. [`Steps`] names what localnet is doing, so a failure says in which step
//! it happened and a success how long each step took.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};

/// A child that ended while the supervisor still wanted it running.
#[derive(Debug)]
pub struct Exit {
    pub name: String,
    /// Its exit status, or why it could not be waited for.
    pub status: Result<ExitStatus, String>,
    pub log: PathBuf,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.status {
            Ok(s) => write!(f, "{} exited ({s}); see {}", self.name, self.log.display()),
            Err(e) => write!(f, "{} could not be waited for ({e}); see {}", self.name, self.log.display()),
        }
    }
}

/// The unexpected exits of a supervisor's children, in the order they happen.
pub type Exits = mpsc::UnboundedReceiver<Exit>;

struct Child {
    name: String,
    pid: Option<u32>,
    exited: Arc<AtomicBool>,
    /// Resolves once the child has been reaped.
    reaped: Option<oneshot::Receiver<()>>,
}

pub struct Supervisor {
    logs: PathBuf,
    children: Vec<Child>,
    exits: mpsc::UnboundedSender<Exit>,
    stopping: Arc<AtomicBool>,
}

impl Supervisor {
    /// A supervisor writing logs under `logs`, and the receiver of its children's unexpected exits.
    pub fn new(logs: &Path) -> (Supervisor, Exits) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sup = Supervisor { logs: logs.to_path_buf(), children: Vec::new(), exits: tx, stopping: Arc::default() };
        (sup, rx)
    }

    pub fn log_of(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// Starts `program` with stdout and stderr to its log.
    pub fn spawn(&mut self, name: &str, program: &Path, args: &[String]) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.log_of(name)).with_context(|| format!("log for {name}"))?;
        let err = log.try_clone()?;
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        self.watch(name, child);
        Ok(())
    }

    /// Starts `program` (stderr to its log) and waits up to `wait` for its ready line on stdout,
    /// read as `T`. The rest of stdout is drained so the child never blocks on a full pipe.
    pub async fn spawn_ready<T: DeserializeOwned>(
        &mut self,
        name: &str,
        program: &Path,
        args: &[String],
        wait: Duration,
    ) -> anyhow::Result<T> {
        let log_path = self.log_of(name);
        let log = std::fs::File::create(&log_path).with_context(|| format!("log for {name}"))?;
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        self.watch(name, child);
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(wait, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(view) = crate::ready::parse::<T>(&line) {
                    return Some(view);
                }
            }
            None
        })
        .await;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        match ready {
            Ok(Some(Ok(view))) => Ok(view),
            Ok(Some(Err(e))) => bail!("{name}'s ready line does not read: {e}"),
            Ok(None) => bail!("{name} exited before its ready line; see {}", log_path.display()),
            Err(_) => bail!("{name} was not ready within {wait:?}; see {}", log_path.display()),
        }
    }

    /// Reaps the child in the background and reports its exit unless the supervisor is stopping.
    fn watch(&mut self, name: &str, mut child: tokio::process::Child) {
        let exited = Arc::new(AtomicBool::new(false));
        let (reaped_tx, reaped_rx) = oneshot::channel();
        let (tx, stopping, flag) = (self.exits.clone(), self.stopping.clone(), exited.clone());
        let (n, log) = (name.to_string(), self.log_of(name));
        let pid = child.id();
        tokio::spawn(async move {
            let status = child.wait().await.map_err(|e| e.to_string());
            flag.store(true, Ordering::Release);
            if !stopping.load(Ordering::Acquire) {
                let _ = tx.send(Exit { name: n, status, log });
            }
            let _ = reaped_tx.send(());
        });
        self.children.push(Child { name: name.to_string(), pid, exited, reaped: Some(reaped_rx) });
    }

    /// Names of the children started so far.
    pub fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    /// Stops every child: SIGTERM (daemons flush and exit cleanly), up to `grace` for all of
    /// them to exit, then SIGKILL for the rest.
    pub async fn stop(&mut self, grace: Duration) {
        self.stopping.store(true, Ordering::Release);
        for c in &self.children {
            signal(c, Sig::Term);
        }
        let deadline = tokio::time::Instant::now() + grace;
        for c in &mut self.children {
            let Some(reaped) = c.reaped.take() else { continue };
            tokio::pin!(reaped);
            if tokio::time::timeout_at(deadline, &mut reaped).await.is_err() {
                eprintln!("  {} did not stop in {grace:?}; killing it", c.name);
                signal(c, Sig::Kill);
                let _ = tokio::time::timeout(Duration::from_secs(5), reaped).await;
            }
        }
        self.children.clear();
    }
}

impl Drop for Supervisor {
    /// Whatever ends localnet, no child outlives it.
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Release);
        for c in &self.children {
            signal(c, Sig::Kill);
        }
    }
}

#[derive(Clone, Copy)]
enum Sig {
    Term,
    Kill,
}

/// Signals a child that has not been reaped yet (a reaped child's pid may belong to another
/// process by now).
fn signal(c: &Child, sig: Sig) {
    if c.exited.load(Ordering::Acquire) {
        return;
    }
    let Some(pid) = c.pid.and_then(|p| i32::try_from(p).ok()).and_then(rustix::process::Pid::from_raw) else {
        return;
    };
    let sig = match sig {
        Sig::Term => rustix::process::Signal::TERM,
        Sig::Kill => rustix::process::Signal::KILL,
    };
    if let Err(e) = rustix::process::kill_process(pid, sig) {
        tracing::debug!(child = %c.name, error = %e, "signalling a child failed (it may have just exited)");
    }
}

/// The named steps of a run: which one is under way, and how long the finished ones took.
#[derive(Debug, Default)]
pub struct Steps {
    current: Option<(String, Instant)>,
    done: Vec<(String, Duration)>,
}

impl Steps {
    /// Ends the current step and starts `name` (printed as `==> name`).
    pub fn begin(&mut self, name: &str) {
        self.finish();
        eprintln!("==> {name}");
        self.current = Some((name.to_string(), Instant::now()));
    }

    /// Ends the current step, if any.
    pub fn finish(&mut self) {
        if let Some((name, t0)) = self.current.take() {
            self.done.push((name, t0.elapsed()));
        }
    }

    /// The step under way, and for how long.
    pub fn current(&self) -> Option<(&str, Duration)> {
        self.current.as_ref().map(|(n, t0)| (n.as_str(), t0.elapsed()))
    }

    /// The finished steps and their times, in order.
    pub fn done(&self) -> &[(String, Duration)] {
        &self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> (PathBuf, Vec<String>) {
        (PathBuf::from("/bin/sh"), vec!["-c".to_string(), script.to_string()])
    }

    #[tokio::test]
    async fn a_typed_ready_line_is_awaited_and_stop_ends_the_child() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut sup, mut exits) = Supervisor::new(dir.path());
        let (prog, args) = sh(
            r#"echo starting; echo '{"event":"ready","url":"http://x","block":1,"subnets":[],"block_time_ms":5,"data_dir":"d"}'; exec sleep 60"#,
        );
        let ready: crate::ready::DevnetReady =
            sup.spawn_ready("fake-devnet", &prog, &args, Duration::from_secs(10)).await.expect("ready");
        assert_eq!(ready.url, "http://x");
        let t0 = Instant::now();
        sup.stop(Duration::from_secs(5)).await;
        assert!(t0.elapsed() < Duration::from_secs(5), "SIGTERM ends sleep at once: {:?}", t0.elapsed());
        assert!(exits.try_recv().is_err(), "a stop is not an unexpected exit");
    }

    #[tokio::test]
    async fn an_unexpected_exit_is_reported_with_its_log() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut sup, mut exits) = Supervisor::new(dir.path());
        let (prog, args) = sh("echo boom >&2; exit 3");
        sup.spawn("crasher", &prog, &args).expect("spawn");
        let exit = tokio::time::timeout(Duration::from_secs(10), exits.recv()).await.expect("in time").expect("exit");
        assert_eq!(exit.name, "crasher");
        assert_eq!(exit.status.as_ref().ok().and_then(|s| s.code()), Some(3));
        assert!(exit.to_string().contains("crasher.log"), "{exit}");
        let log = std::fs::read_to_string(dir.path().join("crasher.log")).expect("log");
        assert!(log.contains("boom"), "{log}");
    }

    #[tokio::test]
    async fn no_ready_line_is_an_error_naming_the_child() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut sup, _exits) = Supervisor::new(dir.path());
        let (prog, args) = sh("echo not ready; exit 0");
        let e = sup
            .spawn_ready::<crate::ready::DevnetReady>("quitter", &prog, &args, Duration::from_secs(10))
            .await
            .expect_err("exits first");
        assert!(e.to_string().contains("quitter exited before its ready line"), "{e}");
        let (prog, args) = sh("exec sleep 60");
        let e = sup
            .spawn_ready::<crate::ready::DevnetReady>("sleeper", &prog, &args, Duration::from_millis(300))
            .await
            .expect_err("never ready");
        assert!(e.to_string().contains("sleeper was not ready"), "{e}");
        let (prog, args) = sh(r#"echo '{"event":"ready","block":1}'; exec sleep 60"#);
        let e = sup
            .spawn_ready::<crate::ready::DevnetReady>("odd", &prog, &args, Duration::from_secs(10))
            .await
            .expect_err("no url");
        assert!(e.to_string().contains("odd's ready line does not read") && e.to_string().contains("url"), "{e}");
        sup.stop(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn a_child_that_ignores_sigterm_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut sup, _exits) = Supervisor::new(dir.path());
        // The shell ignores TERM and waits on a child it keeps; only KILL ends it.
        let (prog, args) = sh(
            r#"trap '' TERM; echo '{"event":"ready","url":"u","block":0,"subnets":[],"block_time_ms":1,"data_dir":"d"}'; while true; do sleep 1; done"#,
        );
        let _: crate::ready::DevnetReady =
            sup.spawn_ready("stubborn", &prog, &args, Duration::from_secs(10)).await.expect("ready");
        let t0 = Instant::now();
        sup.stop(Duration::from_millis(500)).await;
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(5), "{took:?}");
    }

    #[tokio::test]
    async fn dropping_the_supervisor_kills_its_children() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut sup, _exits) = Supervisor::new(dir.path());
        let (prog, args) = sh("exec sleep 60");
        sup.spawn("orphan", &prog, &args).expect("spawn");
        let pid = sup.children[0].pid.and_then(|p| i32::try_from(p).ok()).expect("pid");
        drop(sup);
        let t0 = Instant::now();
        // Reaped by its watch task once killed: then /proc no longer has it.
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(t0.elapsed() < Duration::from_secs(5), "the child outlived its supervisor");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn steps_name_the_current_one_and_time_the_finished() {
        let mut s = Steps::default();
        assert!(s.current().is_none());
        s.begin("one");
        s.begin("two");
        assert_eq!(s.current().map(|(n, _)| n), Some("two"));
        s.finish();
        assert!(s.current().is_none());
        let names: Vec<_> = s.done().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["one", "two"]);
    }
}
