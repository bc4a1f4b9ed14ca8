//! The example deploy configs parse with the real config type, and flags override the file.

use clap::Parser;
use orchestra_validator::node::ValidatorConfig;

#[test]
fn example_validator_config_parses_and_flags_win() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/deploy/validator.toml");
    let argv = orchestra_node::args_with_config_file(vec![
        "validator".into(),
        "--config".into(),
        path.into(),
        "--netuid".into(),
        "7".into(),
    ])
    .expect("merge");
    let cfg = ValidatorConfig::try_parse_from(argv).expect("parse");
    assert_eq!(cfg.neuron.netuid, 7, "the command line wins over the file");
    assert_eq!(cfg.api_port, 8090);
    assert_eq!(cfg.epoch_secs, 600);
    assert_eq!(cfg.neuron.wallet.name, "validator");
    assert_eq!(cfg.neuron.network, "test");
    assert!(cfg.neuron.log_json);
}
