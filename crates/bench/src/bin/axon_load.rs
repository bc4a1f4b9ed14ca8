//! `axon-load`: a signed Bittensor v10 load generator for any axon, Rust or Python.
//!
//! Each connection is one keep-alive TCP stream with its own dendrite uuid and sends one request
//! at a time, so nonces rise strictly per (hotkey, uuid) and the Python axon's monotonic nonce
//! rule never rejects a request. Requests are signed as they are sent (sr25519, like a real
//! dendrite) on a single-threaded runtime, so the client takes at most one core. With `--rate`
//! the load is open-loop and latency counts from the scheduled send time (no coordinated
//! omission). With `--pid` the axon's CPU time is read from procfs and throughput is also given
//! per core of the axon. Prints one JSON line with the results.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use orchestra_bench::{load_average, percentile, process_cpu_seconds};
use orchestra_keys::{Keypair, PublicKey};
use orchestra_proto::{body_hash::EMPTY_BODY_HASH, body_hash::body_hash_from_strs, wire};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(about = "Signed v10 load against an axon (EchoSynapse: query in, result out)")]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8091)]
    port: u16,
    /// The axon's hotkey (ss58): the signed message binds it (not needed with --measure-verify).
    #[arg(long, default_value = "")]
    axon_hotkey: String,
    /// Dendrite key (dev URI).
    #[arg(long, default_value = "//Bob")]
    uri: String,
    #[arg(long, default_value = "EchoSynapse")]
    synapse: String,
    /// Requests to send (after warm-up).
    #[arg(short = 'n', default_value_t = 10_000)]
    n: usize,
    /// Concurrent connections.
    #[arg(short = 'c', default_value_t = 32)]
    c: usize,
    /// Warm-up requests (not measured).
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Target request rate (req/s) for an open-loop run; 0 = as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Hash the query field (the peer runs with --hash-fields).
    #[arg(long)]
    hash_fields: bool,
    #[arg(long, default_value = "hello bittensor")]
    query: String,
    /// PID of the axon process, to report its CPU time per request.
    #[arg(long)]
    pid: Option<u32>,
    /// Label for the JSON output.
    #[arg(long, default_value = "axon")]
    label: String,
    /// Instead of load: time N sr25519 verifications and print µs per verify (and per
    /// signature in batches of 4, 16 and 64).
    #[arg(long)]
    measure_verify: bool,
    /// Sign every request before the clock starts (nonces stay fresh for the axon's 16 s
    /// window: keep the run shorter), so the client's signing never limits the load: the axon
    /// is saturated and requests arrive together, as from many validators at once.
    #[arg(long)]
    presign: bool,
    /// Read the axon's `/metrics` (a Rust axon run with `--metrics`) before and after, and
    /// report how many signatures it verified per batch.
    #[arg(long)]
    axon_metrics: bool,
}

struct Conn {
    stream: TcpStream,
    uuid: String,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Result<Conn> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, uuid: uuid::Uuid::new_v4().to_string(), buf: Vec::with_capacity(8192) })
    }

    /// One signed request (the nonce is now, strictly increasing per process).
    fn build(&self, a: &Args, key: &Keypair, host_header: &str) -> Vec<u8> {
        let nonce = orchestra_proto::nonce::next_nonce();
        let bh = if a.hash_fields { body_hash_from_strs(&[a.query.as_str()]) } else { EMPTY_BODY_HASH.to_string() };
        let dh = key.ss58();
        let msg = wire::dendrite_message(nonce, dh, &a.axon_hotkey, &self.uuid, &bh);
        let sig = key.sign_hex(msg.as_bytes());
        let body = serde_json::json!({"name": a.synapse, "timeout": 12.0, "query": a.query}).to_string();
        format!(
            "POST /{syn} HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\
name: {syn}\r\ntimeout: 12.0\r\nbt_header_axon_hotkey: {ah}\r\nbt_header_dendrite_version: {ver}\r\n\
bt_header_dendrite_nonce: {nonce}\r\nbt_header_dendrite_uuid: {uuid}\r\nbt_header_dendrite_hotkey: {dh}\r\n\
bt_header_dendrite_signature: {sig}\r\nbt_header_input_obj_query: IiI=\r\ncomputed_body_hash: {bh}\r\n\r\n{body}",
            syn = a.synapse,
            len = body.len(),
            ah = a.axon_hotkey,
            ver = wire::SDK_VERSION_AS_INT,
            uuid = self.uuid,
        )
        .into_bytes()
    }

    /// Send one signed request and read the whole response; Ok(true) when it is a correct echo.
    async fn call(&mut self, a: &Args, key: &Keypair, host_header: &str, expect: &str) -> Result<bool> {
        let req = self.build(a, key, host_header);
        self.send(&req, expect).await
    }

    /// Send a request built before and read the whole response.
    async fn send(&mut self, req: &[u8], expect: &str) -> Result<bool> {
        self.stream.write_all(req).await?;
        self.buf.clear();
        let (head_end, content_len, status) = loop {
            let mut chunk = [0u8; 4096];
            let k = self.stream.read(&mut chunk).await?;
            if k == 0 {
                bail!("connection closed by the axon");
            }
            self.buf.extend_from_slice(&chunk[..k]);
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..pos]).context("head is not utf-8")?;
                let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).context("bad status line")?;
                let mut len = 0usize;
                for line in head.split("\r\n") {
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        len = v.trim().parse().context("bad content-length")?;
                    }
                }
                break (pos + 4, len, status);
            }
        };
        while self.buf.len() < head_end + content_len {
            let mut chunk = [0u8; 4096];
            let k = self.stream.read(&mut chunk).await?;
            if k == 0 {
                bail!("connection closed mid-body");
            }
            self.buf.extend_from_slice(&chunk[..k]);
        }
        let body = &self.buf[head_end..head_end + content_len];
        Ok(status == 200 && find(body, expect.as_bytes()).is_some())
    }
}

/// `orchestra_axon_signatures_verified` and `…_signature_batches` from the axon's `/metrics`.
fn batch_counters(addr: &str) -> Option<(f64, f64)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let value = |name: &str| -> Option<f64> {
        text.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok()
    };
    Some((value("orchestra_axon_signatures_verified_total")?, value("orchestra_axon_signature_batches_total")?))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Runs `step` (which does some operations and says how many) until at least `min_cpu_s` of
/// this process's CPU time has passed; returns (CPU µs, wall µs) per operation. CPU time, like
/// the axon's per-core figures, so a machine busy with other work does not inflate the bound.
fn per_op(min_cpu_s: f64, mut step: impl FnMut() -> usize) -> (f64, f64) {
    let me = std::process::id();
    let cpu0 = process_cpu_seconds(me).unwrap_or(0.0);
    let t = Instant::now();
    let mut ops = 0usize;
    loop {
        ops += step();
        let cpu = process_cpu_seconds(me).unwrap_or(0.0) - cpu0;
        if cpu >= min_cpu_s || t.elapsed().as_secs_f64() > 20.0 * min_cpu_s {
            let ops = ops.max(1) as f64;
            return (cpu / ops * 1e6, t.elapsed().as_secs_f64() / ops * 1e6);
        }
    }
}

fn measure_verify(n: usize) -> Result<()> {
    let key = Keypair::from_uri("//Alice").map_err(|e| anyhow::anyhow!("{e}"))?;
    let msg = b"1795316511645856156.5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY.5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty.10dd7f9c-e621-11f1-b93e-02fc00000001.a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a";
    let sig = key.sign(msg);
    let pk: PublicKey = key.public();
    let vk = orchestra_keys::VerifyingKey::new(&pk).map_err(|e| anyhow::anyhow!("{e}"))?;
    // At least a second of CPU per figure (procfs counts in 10 ms ticks).
    let min_cpu = (n as f64 * 50e-6).max(1.0);
    let mut ok = 0usize;
    let (verify_us, verify_wall_us) = per_op(min_cpu, || {
        for _ in 0..1000 {
            ok += usize::from(vk.verify(msg, &sig));
        }
        1000
    });
    let (sign_us, _) = per_op(min_cpu / 4.0, || {
        for _ in 0..100 {
            ok += usize::from(key.sign(msg).len() == 64);
        }
        100
    });
    // Batches: one signer (as in this benchmark's load, one validator) and distinct signers.
    let signers: Vec<Keypair> = (0..64)
        .map(|i| Keypair::from_uri(&format!("//Batch{i}")).map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<Result<_>>()?;
    let vks: Vec<orchestra_keys::VerifyingKey> = signers
        .iter()
        .map(|k| orchestra_keys::VerifyingKey::new(&k.public()).map_err(|e| anyhow::anyhow!("{e}")))
        .collect::<Result<_>>()?;
    let msgs: Vec<Vec<u8>> = (0..64).map(|i| [msg.as_slice(), format!("{i}").as_bytes()].concat()).collect();
    let one_key: Vec<[u8; 64]> = msgs.iter().map(|m| key.sign(m)).collect();
    let many_keys: Vec<[u8; 64]> = msgs.iter().zip(&signers).map(|(m, k)| k.sign(m)).collect();
    let mut batch = serde_json::Map::new();
    for size in [4usize, 16, 64] {
        for (label, sigs, distinct) in [("one_signer", &one_key, false), ("distinct_signers", &many_keys, true)] {
            let items: Vec<orchestra_keys::BatchItem<'_>> = (0..size)
                .map(|i| orchestra_keys::BatchItem {
                    key: if distinct { &vks[i] } else { &vk },
                    msg: &msgs[i],
                    sig: &sigs[i],
                })
                .collect();
            let (us, _) = per_op(min_cpu / 2.0, || {
                for _ in 0..10 {
                    ok += usize::from(orchestra_keys::verify_batch(&items));
                }
                10 * size
            });
            batch.insert(format!("{label}_{size}_us_per_sig"), serde_json::json!(us));
        }
    }
    println!(
        "{}",
        serde_json::json!({"event": "verify", "ok": ok, "verify_us": verify_us, "verify_wall_us": verify_wall_us,
            "sign_us": sign_us, "verify_bound_rps_per_core": 1e6 / verify_us, "batch": batch,
            "clock": "process CPU time", "load_avg": load_average()})
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.measure_verify {
        return measure_verify(args.n);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let args = std::sync::Arc::new(args);
    let key = std::sync::Arc::new(Keypair::from_uri(&args.uri).map_err(|e| anyhow::anyhow!("{e}"))?);
    let addr = format!("{}:{}", args.host, args.port);
    let expect = format!("\"result\":{}", serde_json::Value::String(args.query.clone()));

    // Warm-up on one connection (also checks the axon answers correctly at all).
    let mut warm = Conn::open(&addr).await?;
    for _ in 0..args.warmup {
        if !warm.call(&args, &key, &addr, &expect).await? {
            bail!("warm-up request was refused or not echoed: check --axon-hotkey and --hash-fields");
        }
    }
    drop(warm);

    let per_conn = args.n.div_ceil(args.c);
    // Every connection is open (and its requests signed, with --presign) before the clock starts.
    let ready = std::sync::Arc::new(tokio::sync::Barrier::new(args.c + 1));
    let interval = if args.rate > 0.0 { Some(Duration::from_secs_f64(args.c as f64 / args.rate)) } else { None };
    let mut tasks = Vec::new();
    for i in 0..args.c {
        let (args, key, addr, expect, ready) = (args.clone(), key.clone(), addr.clone(), expect.clone(), ready.clone());
        let count = per_conn.min(args.n.saturating_sub(i * per_conn));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(count);
            let mut bad = 0usize;
            let opened = Conn::open(&addr).await;
            let signed: Vec<Vec<u8>> = match &opened {
                Ok(conn) if args.presign => (0..count).map(|_| conn.build(&args, &key, &addr)).collect(),
                _ => Vec::new(),
            };
            ready.wait().await;
            let mut conn = opened?;
            // Stagger open-loop senders so they do not fire in lockstep.
            let t0 = Instant::now() + interval.map(|iv| iv.mul_f64(i as f64 / args.c as f64)).unwrap_or_default();
            for k in 0..count {
                let scheduled = match interval {
                    Some(iv) => {
                        let s = t0 + iv * k as u32;
                        tokio::time::sleep_until(s.into()).await;
                        s
                    }
                    None => Instant::now(),
                };
                let sent = match signed.get(k) {
                    Some(req) => conn.send(req, &expect).await,
                    None => conn.call(&args, &key, &addr, &expect).await,
                };
                match sent {
                    Ok(true) => {}
                    Ok(false) => bad += 1,
                    Err(_) => {
                        bad += 1;
                        conn = Conn::open(&addr).await?;
                    }
                }
                lat.push(scheduled.elapsed());
            }
            anyhow::Ok((lat, bad))
        }));
    }
    let batches0 = if args.axon_metrics { batch_counters(&addr) } else { None };
    ready.wait().await;
    let cpu0 = args.pid.and_then(process_cpu_seconds);
    let start = Instant::now();
    let mut lat = Vec::with_capacity(args.n);
    let mut bad = 0;
    for t in tasks {
        let (l, b) = t.await??;
        lat.extend(l);
        bad += b;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu1 = args.pid.and_then(process_cpu_seconds);
    let mean_batch = match (batches0, if args.axon_metrics { batch_counters(&addr) } else { None }) {
        (Some((s0, b0)), Some((s1, b1))) if b1 > b0 => Some((s1 - s0) / (b1 - b0)),
        _ => None,
    };
    lat.sort_unstable();
    let n = lat.len();
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let axon_cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let out = serde_json::json!({
        "event": "result",
        "label": args.label,
        "n": n,
        "c": args.c,
        "target_rate": args.rate,
        "ok": n - bad,
        "errors": bad,
        "wall_s": wall,
        "rps": n as f64 / wall,
        "p50_ms": ms(percentile(&lat, 50.0)),
        "p90_ms": ms(percentile(&lat, 90.0)),
        "p99_ms": ms(percentile(&lat, 99.0)),
        "max_ms": ms(percentile(&lat, 100.0)),
        "axon_cpu_s": axon_cpu,
        "axon_cpu_us_per_req": axon_cpu.map(|c| c / n as f64 * 1e6),
        "rps_per_axon_core": axon_cpu.filter(|c| *c > 0.0).map(|c| n as f64 / c),
        "presigned": args.presign,
        "mean_signature_batch": mean_batch,
        "load_avg": load_average(),
    });
    println!("{out}");
    Ok(())
}
