//! `orchestra subnet probe`: run what a validator's probe runs against one Ledger entry (the same
//! `orchestra_subnets::probe::probe`, the same guarded client, the operator's credential file)
//! and print the result and the receipt. The tool an operator uses to check an endpoint and a
//! key before a validator does.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use orchestra_keys::Keypair;
use orchestra_net::GuardConfig;
use orchestra_node::WalletArgs;
use orchestra_proto::ledger::{LedgerEntry, TransportSpec};
use orchestra_subnets::Adapters;
use orchestra_subnets::probe::{ProbeClass, ProbeReport, probe};
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum SubnetCommand {
    /// Probe a subnet as a validator does: call it with its Ledger entry's fixture and print the
    /// result (answered or why not, latency, drift from the entry's schema) and the receipt.
    /// Exits 0 when the subnet answered, 1 when it did not.
    Probe(ProbeArgs),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).multiple(true).args(["entry", "netuid"])))]
pub struct ProbeArgs {
    /// The entry to probe: a JSON file holding one entry, or a Ledger document (an array of
    /// entries, `{"subnets": [...]}` or `{"entries": [...]}`) with --netuid choosing one.
    #[arg(long)]
    pub entry: Option<PathBuf>,
    /// The netuid to probe: picked from --entry's document, or fetched from --ledger.
    #[arg(long)]
    pub netuid: Option<u16>,
    /// Ledger API to fetch --netuid's entry from (full entries need a developer key or better).
    #[arg(long, env = "ORCHESTRA_LEDGER_URL", default_value = "http://127.0.0.1:8090")]
    pub ledger: String,
    /// Ledger API key.
    #[arg(long, env = "ORCHESTRA_LEDGER_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Extra CA certificates (PEM) trusted for https besides the system roots (private CAs);
    /// also used for the Ledger API.
    #[arg(long = "tls.ca-file")]
    pub tls_ca_file: Option<PathBuf>,
    /// Allow loopback, private and other internal destinations (local networks). Without it a
    /// probe of such a target is refused before anything is sent.
    #[arg(long = "allow-private")]
    pub allow_private: bool,
    /// The operator's subnet credentials (TOML, one table per netuid), as a validator's
    /// `--subnet.credentials`: the only source of API keys.
    #[arg(long = "subnet.credentials")]
    pub subnet_credentials: Option<PathBuf>,
    /// Sign axon (v10) and btauth/1 calls with a dev key (e.g. //Alice) instead of the wallet's hotkey.
    #[arg(long)]
    pub uri: Option<String>,
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Probe timeout in ms (a validator's re-probe default).
    #[arg(long = "timeout-ms", default_value_t = 5_000)]
    pub timeout_ms: u64,
}

pub fn run(cmd: SubnetCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SubnetCommand::Probe(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("async runtime")?;
            rt.block_on(run_probe(a))
        }
    }
}

/// The entry to probe, from a file or the Ledger API.
async fn load_entry(a: &ProbeArgs) -> anyhow::Result<LedgerEntry> {
    if let Some(path) = &a.entry {
        let text = std::fs::read_to_string(path).with_context(|| format!("--entry {}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("--entry {} is not JSON", path.display()))?;
        let list = match v {
            Value::Array(items) => items,
            Value::Object(mut m) if m.contains_key("subnets") || m.contains_key("entries") => {
                match m.remove("subnets").or_else(|| m.remove("entries")) {
                    Some(Value::Array(items)) => items,
                    _ => bail!("--entry {}: `subnets`/`entries` is not an array", path.display()),
                }
            }
            one @ Value::Object(_) => vec![one],
            _ => bail!("--entry {}: expected an entry, an array of entries, or a Ledger document", path.display()),
        };
        let entries: Vec<LedgerEntry> = list
            .into_iter()
            .enumerate()
            .map(|(i, v)| serde_json::from_value(v).with_context(|| format!("--entry {}: entry {i}", path.display())))
            .collect::<anyhow::Result<_>>()?;
        let e = match (a.netuid, entries.len()) {
            (Some(n), _) => entries
                .into_iter()
                .find(|e| e.netuid == n)
                .with_context(|| format!("--entry {} has no entry for netuid {n}", path.display()))?,
            (None, 1) => entries.into_iter().next().context("one entry")?,
            (None, n) => bail!("--entry {} holds {n} entries: choose one with --netuid", path.display()),
        };
        e.validate().with_context(|| format!("--entry {}", path.display()))?;
        return Ok(e);
    }
    let netuid = a.netuid.context("--entry or --netuid is required")?;
    let guard = GuardConfig {
        allow_private: true,
        ca_file: a.tls_ca_file.clone(),
        max_response_bytes: 16 * 1024 * 1024,
        ..GuardConfig::default()
    };
    let client = orchestra_ledger_api::LedgerClient::with_guard(&a.ledger, a.key.clone(), guard)?;
    match client.get(netuid).await.with_context(|| format!("fetching netuid {netuid} from {}", a.ledger))? {
        orchestra_ledger_api::views::SubnetView::Full(e) => Ok(*e),
        orchestra_ledger_api::views::SubnetView::Summary(_) => {
            bail!("{} returned a summary of netuid {netuid}: full entries need a developer key (--key)", a.ledger)
        }
    }
}

/// The hosts an entry's transports reach (URL hosts, fixed axon endpoints).
fn targets(e: &LedgerEntry) -> Vec<(String, String, u16)> {
    let mut out = Vec::new();
    for t in &e.transports {
        let url = match t {
            TransportSpec::HttpJson { url, .. } | TransportSpec::Btauth { url, .. } => Some(url.clone()),
            TransportSpec::OpenaiChat { base_url, .. } => Some(base_url.clone()),
            TransportSpec::AxonV10 { endpoint: Some(ep), .. } => Some(format!("http://{ep}/")),
            TransportSpec::AxonV10 { endpoint: None, .. } => None,
        };
        if let Some(u) = url.and_then(|u| reqwest::Url::parse(&u).ok())
            && let Some(host) = u.host_str()
        {
            let port = u.port_or_known_default().unwrap_or(80);
            out.push((t.kind().to_string(), host.trim_start_matches('[').trim_end_matches(']').to_string(), port));
        }
    }
    out
}

/// Refuse loopback and private targets unless --allow-private, with a message that says so.
async fn check_targets(e: &LedgerEntry, allow_private: bool) -> anyhow::Result<()> {
    if allow_private {
        return Ok(());
    }
    for (kind, host, port) in targets(e) {
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(a) => a.map(|s: SocketAddr| s.ip()).collect(),
                // Unresolvable: the probe itself reports the failure.
                Err(_) => continue,
            },
        };
        for ip in addrs {
            if let Some(reason) = orchestra_net::guard::forbidden_reason(ip) {
                bail!(
                    "netuid {}: the {kind} transport targets {host} ({ip}), a {reason} address; probing loopback or \
                     private targets needs --allow-private",
                    e.netuid
                );
            }
        }
    }
    Ok(())
}

fn signer(a: &ProbeArgs) -> Option<Keypair> {
    match &a.uri {
        Some(u) => Keypair::from_uri(u).ok(),
        None => a.wallet.wallet().hotkey().ok(),
    }
}

/// The printed result of a probe.
pub fn report_json(entry: &LedgerEntry, r: &ProbeReport) -> Value {
    let answer = r.output().map(|v| {
        let text = v.to_string();
        if text.len() > 4096 { json!({"truncated": true, "bytes": text.len()}) } else { v.clone() }
    });
    json!({
        "netuid": entry.netuid,
        "name": entry.name,
        "status": entry.status,
        "transport": entry.transports.first().map(|t| t.kind()),
        "result": {
            "answered": r.answered(),
            "class": r.class,
            "summary": r.summary(),
            "error": r.error().map(|e| e.to_string()),
            "latency_ms": r.latency_ms,
            "drift": r.outcome.drift,
            "usage_tokens": r.usage_tokens(),
            "answer": answer,
        },
        "receipt": r.outcome.receipt,
        "receipt_leaf": r.outcome.receipt.as_ref().and_then(|x| x.leaf().ok()),
    })
}

async fn run_probe(a: ProbeArgs) -> anyhow::Result<ExitCode> {
    let entry = load_entry(&a).await?;
    check_targets(&entry, a.allow_private).await?;
    let guard =
        GuardConfig { allow_private: a.allow_private, ca_file: a.tls_ca_file.clone(), ..GuardConfig::default() };
    let mut adapters = Adapters::for_operator(guard, a.subnet_credentials.as_deref())?;
    if let Some(k) = signer(&a) {
        adapters = adapters.with_keypair(k);
    }
    let r = probe(&adapters, &entry, Duration::from_millis(a.timeout_ms.max(1))).await;
    println!("{}", serde_json::to_string_pretty(&report_json(&entry, &r))?);
    if r.class == ProbeClass::Local
        && let Some(e) = r.error()
    {
        eprintln!("error: this side could not probe netuid {}: {e}", entry.netuid);
    }
    Ok(if r.answered() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
