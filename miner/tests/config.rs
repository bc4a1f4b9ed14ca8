//! The example deploy config parses with the real config type.

use clap::Parser;
use orchestra_miner::node::MinerConfig;

#[test]
fn example_miner_config_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/deploy/miner.toml");
    let argv =
        orchestra_node::args_with_config_file::<MinerConfig>(vec!["miner".into(), "--config".into(), path.into()])
            .expect("merge");
    let cfg = MinerConfig::try_parse_from(argv).expect("parse");
    assert_eq!(cfg.neuron.axon_port, 8091);
    assert_eq!(cfg.neuron.axon_external_ip, Some("203.0.113.10".parse().expect("ip")));
    assert_eq!(cfg.min_stake, 1000.0);
    assert_eq!(cfg.ledger_file.as_deref(), Some("/etc/orchestra/ledger.json"));
    assert_eq!(cfg.neuron.wallet.path, "~/.bittensor/wallets");
}
