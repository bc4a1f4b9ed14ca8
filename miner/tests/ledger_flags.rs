//! The Ledger-following flags: repeatable or comma separated on the command line, an array in the
//! TOML config, a 60 s default interval.

use clap::Parser;
use orchestra_miner::node::MinerConfig;

#[test]
fn ledger_urls_from_flags_and_from_toml() {
    let cfg = MinerConfig::try_parse_from([
        "miner",
        "--ledger.url",
        "http://a:8090",
        "--ledger.url",
        "http://b:8090,http://c:8090",
    ])
    .expect("parse");
    assert_eq!(cfg.ledger_urls, ["http://a:8090", "http://b:8090", "http://c:8090"]);
    assert_eq!(cfg.ledger_sync_secs, 60);
    assert!(!cfg.ledger_onchain_root);

    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("miner.toml");
    std::fs::write(
        &path,
        "[ledger]\nurl = [\"https://v1.example:8090\", \"https://v2.example:8090\"]\nsync_secs = 15\nonchain_root = true\n",
    )
    .expect("write");
    let argv = orchestra_node::args_with_config_file::<MinerConfig>(vec![
        "miner".into(),
        "--config".into(),
        path.display().to_string(),
    ])
    .expect("merge");
    let cfg = MinerConfig::try_parse_from(argv).expect("parse");
    assert_eq!(cfg.ledger_urls, ["https://v1.example:8090", "https://v2.example:8090"]);
    assert_eq!(cfg.ledger_sync_secs, 15);
    assert!(cfg.ledger_onchain_root);
}
