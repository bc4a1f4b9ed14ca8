//! `curve`: a scaling curve from JSON lines (one measurement per line): picks `--x` and `--y`
//! from the lines that have both, fits the growth, writes an SVG (log–log) and prints the fit.
//!
//! ```text
//! curve --x concurrency --y rps --title "Ledger API lookups vs connections" \
//!       --x-label connections --y-label "lookups/s" --svg docs/ledger-scaling.svg docs/benchmarks-ledger-curve.jsonl
//! ```

use anyhow::{Context, Result};
use clap::Parser;
use orchestra_bench::plot::{Series, fit_growth, svg_loglog};
use serde_json::{Value, json};

#[derive(Parser, Debug)]
struct Args {
    /// JSON lines file.
    file: String,
    #[arg(long)]
    x: String,
    #[arg(long)]
    y: String,
    /// Keep only lines whose `bench` field is this.
    #[arg(long)]
    bench: Option<String>,
    #[arg(long, default_value = "")]
    title: String,
    #[arg(long, default_value = "")]
    x_label: String,
    #[arg(long, default_value = "")]
    y_label: String,
    #[arg(long, default_value = "measured")]
    label: String,
    #[arg(long)]
    svg: Option<String>,
    /// Draw linear and quadratic guides.
    #[arg(long)]
    guides: bool,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let text = std::fs::read_to_string(&a.file).with_context(|| a.file.clone())?;
    let mut points = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let v: Value = serde_json::from_str(line)?;
        if let Some(b) = &a.bench
            && v["bench"].as_str() != Some(b)
        {
            continue;
        }
        if let (Some(x), Some(y)) = (v[&a.x].as_f64(), v[&a.y].as_f64()) {
            points.push((x, y));
        }
    }
    points.sort_by(|p, q| p.0.total_cmp(&q.0));
    let g = fit_growth(&points);
    if let Some(p) = &a.svg {
        let s = Series { label: a.label.clone(), points: points.clone() };
        std::fs::write(p, svg_loglog(&a.title, &a.x_label, &a.y_label, &[s], a.guides))?;
    }
    println!(
        "{}",
        json!({"event": "curve", "x": a.x, "y": a.y, "points": points, "growth": g.as_ref().map(|g| g.to_string()),
            "exponent": g.as_ref().map(|g| g.exponent)})
    );
    Ok(())
}
