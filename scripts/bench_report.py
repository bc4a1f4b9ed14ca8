#!/usr/bin/env python3
"""Render the axon section of docs/benchmarks.md from the JSON lines bench-axon.sh collected."""
import json, platform, subprocess, sys, datetime

src, dst = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(src) if l.strip().startswith("{")]
by = {r.get("label", r.get("event")): r for r in rows}
v = next(r for r in rows if r["event"] == "verify")
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()

def f(x, nd=1):
    return "n/a" if x is None else f"{x:,.{nd}f}"

lines = []
lines.append("# Benchmarks\n")
lines.append("Regenerate with `scripts/bench-axon.sh` (release build, loopback). Raw results: `docs/benchmarks-axon.jsonl`.\n")
lines.append(f"Machine: {cpu}, {ncpu} cores, {platform.system()} {platform.release()}; run {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC.\n")
lines.append("## Axon: Rust echo axon vs the Python SDK axon (bittensor 10.5.0)\n")
lines.append("Same signed v10 `EchoSynapse` load from `axon-load` (keep-alive connections, one dendrite uuid per connection, "
             "sr25519 signing per request). *Per core* = requests ÷ the axon process's own CPU seconds, so the load client "
             "sharing the 2 cores does not skew it.\n")
lines.append("| run | conc. | target rate | req/s | p50 ms | p99 ms | axon CPU µs/req | req/s per axon core | errors |")
lines.append("|---|---|---|---|---|---|---|---|---|")
for label in ["python-peak", "python-c1", "rust-peak", "rust-half", "rust-c1"]:
    r = by.get(label)
    if not r:
        continue
    rate = f(r["target_rate"], 0) if r["target_rate"] else "max"
    lines.append(f"| {label} | {r['c']} | {rate} | {f(r['rps'])} | {r['p50_ms']} | {r['p99_ms']} | "
                 f"{f(r['axon_cpu_us_per_req'])} | {f(r['rps_per_axon_core'], 0)} | {r['errors']} |")
py, rs = by.get("python-peak"), by.get("rust-peak")
lines.append("")
if py and rs and py.get("rps_per_axon_core") and rs.get("rps_per_axon_core"):
    ratio = rs["rps_per_axon_core"] / py["rps_per_axon_core"]
    lines.append(f"**Ratio, req/s per core: Rust / Python = {ratio:,.0f}×** (target ≥ 100×). "
                 f"Raw req/s at c=64: {rs['rps'] / py['rps']:,.0f}×.\n")
half = by.get("rust-half")
if half:
    lines.append(f"**p99 at half of peak: {half['p99_ms']} ms** (target < 5 ms).\n")
lines.append(f"Bound: sr25519 verify measured at **{v['verify_us']:.1f} µs** (sign {v['sign_us']:.1f} µs), i.e. at most "
             f"{v['verify_bound_rps_per_core']:,.0f} verified requests per second per core.\n")
open(dst, "w").write("\n".join(lines) + "\n")
