//! Scaling curves: a least-squares growth fit and a small SVG line plot (log–log axes), so
//! `scripts/bench.sh` can draw its curves without a plotting stack.

use std::fmt::Write as _;

/// A measured series: (x, y) points, x the size (miners, receipts, connections).
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// How y grows with x: the exponent of the least-squares line through (ln x, ln y), and the
/// closest of the usual orders (constant, log n, linear, n log n, quadratic) by the residual of
/// a one-parameter fit y ≈ c·f(x).
#[derive(Debug, Clone, PartialEq)]
pub struct Growth {
    pub exponent: f64,
    pub order: &'static str,
}

impl std::fmt::Display for Growth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (fitted n^{:.2})", self.order, self.exponent)
    }
}

/// Fits the growth of `points` (x > 0, y > 0; others are ignored). `None` with fewer than two.
pub fn fit_growth(points: &[(f64, f64)]) -> Option<Growth> {
    let pts: Vec<(f64, f64)> = points.iter().copied().filter(|(x, y)| *x > 0.0 && *y > 0.0).collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let (lx, ly): (Vec<f64>, Vec<f64>) = pts.iter().map(|(x, y)| (x.ln(), y.ln())).unzip();
    let mx = lx.iter().sum::<f64>() / n;
    let my = ly.iter().sum::<f64>() / n;
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = lx.iter().map(|x| (x - mx) * (x - mx)).sum();
    let exponent = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    type Model = (&'static str, fn(f64) -> f64);
    let models: [Model; 5] = [
        ("constant", |_| 1.0),
        ("logarithmic", |x| (x + 1.0).ln()),
        ("linear", |x| x),
        ("n log n", |x| x * (x + 1.0).ln()),
        ("quadratic", |x| x * x),
    ];
    // Each model: the best c in log space (mean of ln y − ln f(x)), judged by the squared
    // residual of ln y, so every point weighs the same whatever its magnitude.
    let order = models
        .iter()
        .map(|(name, f)| {
            let c = pts.iter().map(|(x, y)| y.ln() - f(*x).ln()).sum::<f64>() / n;
            let r: f64 = pts.iter().map(|(x, y)| (y.ln() - c - f(*x).ln()).powi(2)).sum();
            (*name, r)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|m| m.0)
        .unwrap_or("linear");
    Some(Growth { exponent, order })
}

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    // Powers of ten and their 2× and 5×, inside [lo, hi].
    let mut out = Vec::new();
    let mut p = 10f64.powf(lo.log10().floor());
    while p <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = p * m;
            if v >= lo * 0.9999 && v <= hi * 1.0001 {
                out.push(v);
            }
        }
        p *= 10.0;
    }
    if out.len() > 12 {
        out.retain(|v| (v.log10() - v.log10().round()).abs() < 1e-9);
    }
    out
}

fn fmt_num(v: f64) -> String {
    if v >= 1000.0 && (v / 1000.0).fract() == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v >= 1.0 {
        format!("{}", (v * 100.0).round() / 100.0)
    } else {
        format!("{v:.3}")
    }
}

/// An SVG plot of `series` on log–log axes, with the title, axis labels and, per series, the
/// fitted growth in the legend. `guides` adds dashed linear (and quadratic) reference lines
/// through the first series' first point.
pub fn svg_loglog(title: &str, x_label: &str, y_label: &str, series: &[Series], guides: bool) -> String {
    let all: Vec<(f64, f64)> =
        series.iter().flat_map(|s| s.points.iter().copied()).filter(|(x, y)| *x > 0.0 && *y > 0.0).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(out, r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#, W / 2.0, esc(title));
    if all.is_empty() {
        out.push_str("</svg>\n");
        return out;
    }
    let (xmin, xmax) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (ymin, ymax) = all.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (xmin, xmax) = (xmin / 1.2, xmax * 1.2);
    let (ymin, ymax) = (ymin / 1.5, ymax * 1.5);
    let px = |x: f64| LEFT + (x.ln() - xmin.ln()) / (xmax.ln() - xmin.ln()).max(1e-12) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y.ln() - ymin.ln()) / (ymax.ln() - ymin.ln()).max(1e-12) * (H - TOP - BOTTOM);
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#888"/>"##,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    for t in ticks(xmin, xmax) {
        let x = px(t);
        let _ = writeln!(out, r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#eee"/>"##, H - BOTTOM);
        let _ =
            writeln!(out, r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#, H - BOTTOM + 16.0, fmt_num(t));
    }
    for t in ticks(ymin, ymax) {
        let y = py(t);
        let _ = writeln!(out, r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#eee"/>"##, W - RIGHT);
        let _ = writeln!(out, r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#, LEFT - 6.0, y + 4.0, fmt_num(t));
    }
    let _ = writeln!(out, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, W / 2.0, H - 12.0, esc(x_label));
    let _ = writeln!(
        out,
        r#"<text transform="translate(16,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        H / 2.0,
        esc(y_label)
    );
    if guides && let Some(&(x0, y0)) = series.first().and_then(|s| s.points.first()) {
        for (name, pow) in [("linear", 1.0), ("quadratic", 2.0)] {
            let y1 = y0 * (xmax / x0).powf(pow);
            let _ = writeln!(
                out,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#aaa" stroke-dasharray="4 4"><title>{name}</title></line>"##,
                px(x0),
                py(y0),
                px(xmax),
                py(y1.min(ymax * 10.0))
            );
        }
    }
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ =
            writeln!(out, r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#, pts.join(" "));
        for p in &pts {
            let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(out, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
        }
        let growth = fit_growth(&s.points).map(|g| format!(": {g}")).unwrap_or_default();
        let ly = TOP + 16.0 + 16.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}">{}</text>"#,
            LEFT + 10.0,
            ly - 9.0,
            LEFT + 26.0,
            ly,
            esc(&format!("{}{growth}", s.label))
        );
    }
    if guides {
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" fill="#888" text-anchor="end">dashed: linear and quadratic from the first point</text>"##,
            W - RIGHT - 6.0,
            H - BOTTOM - 8.0
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_the_usual_orders() {
        let lin: Vec<(f64, f64)> = [16.0, 64.0, 256.0, 1024.0].iter().map(|x| (*x, 3.0 * x)).collect();
        let g = fit_growth(&lin).expect("fit");
        assert_eq!(g.order, "linear");
        assert!((g.exponent - 1.0).abs() < 1e-9);
        let quad: Vec<(f64, f64)> = [16.0, 64.0, 256.0, 1024.0].iter().map(|x| (*x, 0.1 * x * x)).collect();
        assert_eq!(fit_growth(&quad).expect("fit").order, "quadratic");
        let nlogn: Vec<(f64, f64)> = [16.0f64, 64.0, 256.0, 1024.0].iter().map(|x| (*x, x * (x + 1.0).ln())).collect();
        assert_eq!(fit_growth(&nlogn).expect("fit").order, "n log n");
        let flat: Vec<(f64, f64)> = [1.0, 4.0, 16.0, 64.0].iter().map(|x| (*x, 5.0 + 0.001 * x)).collect();
        assert_eq!(fit_growth(&flat).expect("fit").order, "constant");
        assert!(fit_growth(&[(1.0, 1.0)]).is_none());
    }

    #[test]
    fn draws_an_svg() {
        let s = Series { label: "round".into(), points: vec![(16.0, 0.1), (64.0, 0.4), (256.0, 1.7)] };
        let svg = svg_loglog("Round <time>", "miners", "seconds", &[s], true);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Round &lt;time&gt;") && svg.contains("polyline") && svg.contains("linear"));
    }
}
