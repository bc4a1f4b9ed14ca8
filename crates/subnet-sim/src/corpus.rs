//! The simulator's deterministic corpus: web pages a simulated search finds and a simulated
//! scraper returns. Everything here is made up for local runs and tests (it says so in every
//! page's `source` field); it is rich enough for the worked example of the Orchestra README
//! (cloud GPU pricing: several providers whose hourly prices are findable in their pages) and a
//! few other objectives.

use serde::Serialize;

/// One simulated web page.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub url: &'static str,
    pub title: &'static str,
    /// The page text a scraper returns.
    pub text: &'static str,
    /// Search keywords beyond the words of the title and text.
    pub tags: &'static [&'static str],
    /// ISO date the page claims.
    pub date: &'static str,
}

/// Every page of the simulated web.
pub const PAGES: &[Page] = &[
    Page {
        url: "https://sim.lambda.example/pricing",
        title: "Lambda Cloud GPU pricing (simulated)",
        text: "Lambda Cloud on-demand pricing. NVIDIA H100 SXM: $2.49 per GPU-hour. NVIDIA A100 80GB: $1.29 per GPU-hour. \
Billed by the minute, no egress fees. Reserved clusters available for 1-3 year terms.",
        tags: &["gpu", "cloud", "pricing", "h100", "a100", "inference", "lambda"],
        date: "2026-10-02",
    },
    Page {
        url: "https://sim.coreweave.example/gpu-pricing",
        title: "CoreWeave GPU cloud pricing (simulated)",
        text: "CoreWeave instance pricing. NVIDIA H100 HGX node, per GPU: $4.25 per GPU-hour. NVIDIA A100 80GB: $2.21 per GPU-hour. \
Kubernetes-native, InfiniBand networking, committed-use discounts up to 60%.",
        tags: &["gpu", "cloud", "pricing", "h100", "a100", "coreweave", "inference"],
        date: "2026-09-18",
    },
    Page {
        url: "https://sim.runpod.example/pricing",
        title: "RunPod GPU cloud pricing (simulated)",
        text: "RunPod secure cloud. H100 80GB PCIe: $2.79 per GPU-hour. A100 80GB: $1.64 per GPU-hour. \
Serverless inference billed per second; community cloud from $1.99 per GPU-hour for H100.",
        tags: &["gpu", "cloud", "pricing", "h100", "a100", "runpod", "serverless", "inference"],
        date: "2026-10-11",
    },
    Page {
        url: "https://sim.aws.example/ec2/p5",
        title: "Amazon EC2 P5 instances pricing (simulated)",
        text: "Amazon EC2 P5 instances with 8 NVIDIA H100 GPUs. On-demand price $55.04 per hour per instance, \
which is $6.88 per GPU-hour. Savings Plans reduce this by up to 45%.",
        tags: &["gpu", "cloud", "pricing", "h100", "aws", "ec2", "inference"],
        date: "2026-08-30",
    },
    Page {
        url: "https://sim.together.example/pricing",
        title: "Together AI inference pricing (simulated)",
        text: "Together AI serverless inference. Llama 3.1 70B: $0.88 per million tokens. Llama 3.1 8B: $0.18 per million tokens. \
Dedicated endpoints on H100 from $3.36 per GPU-hour.",
        tags: &["inference", "api", "pricing", "llm", "tokens", "together", "gpu"],
        date: "2026-10-20",
    },
    Page {
        url: "https://sim.analyst.example/gpu-market-2026",
        title: "GPU cloud market report 2026 (simulated)",
        text: "Median on-demand H100 price across neoclouds fell to about $2.80 per GPU-hour in 2026, \
while hyperscalers remain above $6 per GPU-hour. Inference APIs compete on price per million tokens; \
positioning below $1 per million tokens for 70B-class models is now common.",
        tags: &["gpu", "market", "pricing", "report", "inference", "h100", "positioning"],
        date: "2026-11-01",
    },
    Page {
        url: "https://sim.vectordb.example/compare",
        title: "Vector database comparison (simulated)",
        text: "Managed vector databases: Pinecone serverless from $0.33 per GB-month, Weaviate Cloud from $25 per month, \
Qdrant Cloud from $0.014 per hour per node.",
        tags: &["vector", "database", "pricing", "pinecone", "weaviate", "qdrant"],
        date: "2026-07-14",
    },
    Page {
        url: "https://sim.ev.example/charging-costs",
        title: "EV charging costs by network (simulated)",
        text: "Public fast charging: Ionity $0.69 per kWh, Tesla Supercharger $0.48 per kWh, Electrify America $0.56 per kWh.",
        tags: &["ev", "charging", "pricing", "kwh", "electric", "vehicle"],
        date: "2026-06-05",
    },
];

/// Simulated social posts (the SN13-like on-demand data source).
#[derive(Debug, Clone, Serialize)]
pub struct Post {
    pub uri: &'static str,
    pub username: &'static str,
    pub datetime: &'static str,
    pub text: &'static str,
}

pub const POSTS: &[Post] = &[
    Post {
        uri: "https://sim.x.example/gpu_watcher/1",
        username: "gpu_watcher",
        datetime: "2026-11-10T14:02:00Z",
        text: "H100 spot prices on RunPod community cloud down to $1.99/hr this week #gpu #pricing",
    },
    Post {
        uri: "https://sim.x.example/ml_ops_daily/7",
        username: "ml_ops_daily",
        datetime: "2026-11-12T09:30:00Z",
        text: "Lambda still cheapest reserved H100 at $2.49/hr on-demand. CoreWeave $4.25 but better networking #gpu",
    },
    Post {
        uri: "https://sim.reddit.example/r/mlops/42",
        username: "throwaway_infra",
        datetime: "2026-11-15T18:45:00Z",
        text: "We price our inference API at $0.60 per million tokens for a 70B model and still clear margin on H100s #inference #pricing",
    },
    Post {
        uri: "https://sim.x.example/ev_fan/3",
        username: "ev_fan",
        datetime: "2026-10-01T08:00:00Z",
        text: "Supercharger at $0.48/kWh beats every other network near me #ev #charging",
    },
];

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 1).map(|w| w.to_lowercase())
}

/// Pages matching a query, best first: score = query words found in tags (×3), title (×2), text.
pub fn search(query: &str, limit: usize) -> Vec<&'static Page> {
    let q: Vec<String> = words(query).collect();
    let mut scored: Vec<(usize, &Page)> = PAGES
        .iter()
        .map(|p| {
            let title: Vec<String> = words(p.title).collect();
            let text: Vec<String> = words(p.text).collect();
            let s = q
                .iter()
                .map(|w| {
                    3 * usize::from(p.tags.iter().any(|t| t == w))
                        + 2 * usize::from(title.contains(w))
                        + usize::from(text.contains(w))
                })
                .sum();
            (s, p)
        })
        .filter(|(s, _)| *s > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.url.cmp(b.1.url)));
    scored.into_iter().take(limit).map(|(_, p)| p).collect()
}

pub fn page(url: &str) -> Option<&'static Page> {
    PAGES.iter().find(|p| p.url == url)
}

/// Posts whose text or username matches any keyword (or all, with `all`).
pub fn posts(keywords: &[String], usernames: &[String], all: bool, limit: usize) -> Vec<&'static Post> {
    POSTS
        .iter()
        .filter(|p| usernames.is_empty() || usernames.iter().any(|u| u.eq_ignore_ascii_case(p.username)))
        .filter(|p| {
            if keywords.is_empty() {
                return true;
            }
            let text = p.text.to_lowercase();
            let hit = |k: &String| text.contains(&k.to_lowercase());
            if all { keywords.iter().all(hit) } else { keywords.iter().any(hit) }
        })
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_is_findable() {
        let hits = search("cloud GPU pricing H100", 5);
        assert!(hits.len() >= 4);
        assert!(hits.iter().all(|p| p.text.contains('$')));
        assert!(page("https://sim.lambda.example/pricing").is_some());
        assert!(search("zzzz qqqq", 5).is_empty());
        assert_eq!(posts(&["gpu".into()], &[], false, 10).len(), 2);
        assert_eq!(posts(&["h100".into(), "margin".into()], &[], true, 10).len(), 1);
    }
}
