//! The example deploy configs parse with the real config type, and flags override the file.

use clap::Parser;
use orchestra_validator::node::ValidatorConfig;

#[test]
fn example_validator_config_parses_and_flags_win() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/deploy/validator.toml");
    let argv = orchestra_node::args_with_config_file::<ValidatorConfig>(vec![
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

fn write(dir: &std::path::Path, text: &str) -> String {
    let p = dir.join("v.toml");
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

fn parse(argv: &[&str]) -> ValidatorConfig {
    let argv = orchestra_node::args_with_config_file::<ValidatorConfig>(argv.iter().map(|s| s.to_string()).collect())
        .expect("merge");
    ValidatorConfig::try_parse_from(argv).expect("parse")
}

/// Every pair of sources, in the order flags > env > file > defaults. One test, because the
/// environment is process-wide and tests run on threads.
#[test]
fn sources_layer_flags_env_file_defaults() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = write(
        dir.path(),
        "netuid = 5\n[ledger]\npublish_root = false\n[metagraph]\nsync_secs = 30\n[epoch]\nsecs = 99\n",
    );
    // file > defaults, and a `false` from a file reaches a flag that takes a value.
    let c = parse(&["validator", "--config", &file]);
    assert_eq!(c.neuron.netuid, 5);
    assert!(!c.publish_root, "ledger.publish_root = false from the file");
    assert_eq!(c.neuron.sync_secs, 30);
    assert_eq!(c.epoch_secs, 99);
    assert_eq!(c.api_port, 8090, "defaults stay where nothing sets them");
    // flags > file.
    let c = parse(&["validator", "--config", &file, "--netuid", "6", "--ledger.publish_root", "true"]);
    assert_eq!(c.neuron.netuid, 6);
    assert!(c.publish_root);
    // env > file, flags > env, env > defaults: through the real binary's --print-config, so the
    // environment is the child's own.
    let printed = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_validator"))
            .args(args)
            .arg("--print-config")
            .env("BT_NETUID", "8")
            .env("ORCHESTRA_METAGRAPH_SYNC_SECS", "45")
            .output()
            .expect("run validator --print-config");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let text = printed(&["--config", &file]);
    assert!(text.contains("netuid: 8,"), "env beats the file:\n{text}");
    assert!(text.contains("sync_secs: 45,"), "{text}");
    assert!(text.contains("publish_root: false,"), "{text}");
    assert!(printed(&["--config", &file, "--netuid", "9"]).contains("netuid: 9,"), "flags beat env");
    assert!(printed(&[]).contains("netuid: 8,"), "env beats defaults");
    // flags > defaults.
    assert_eq!(parse(&["validator", "--netuid", "4"]).neuron.netuid, 4);
    // An unknown key is an error that names it.
    let bad = write(dir.path(), "netuidd = 5\n");
    let e = orchestra_node::args_with_config_file::<ValidatorConfig>(vec!["validator".into(), "--config".into(), bad])
        .expect_err("unknown key");
    assert!(e.to_string().contains("netuidd"), "{e}");
}

/// The re-probe task's flags: defaults, short windows for tests, a config file section, and
/// thresholds that make no sense together refused with the problem named.
#[test]
fn upkeep_flags_have_defaults_and_are_checked() {
    use std::time::Duration;
    let c = parse(&["validator"]);
    assert!(c.upkeep_enabled);
    let u = c.upkeep().expect("defaults are valid");
    assert_eq!(u.interval, Duration::from_secs(300));
    assert_eq!(u.rule.window, Duration::from_secs(1800));
    assert_eq!(u.rule.deprecate_after, Duration::from_secs(3 * 24 * 3600));
    assert_eq!((u.max_probes, u.max_time), (16, Duration::from_secs(30)));
    assert_eq!((u.rule.fail_streak, u.rule.recover_probes), (3, 3));
    assert_eq!(u.defer.retry_after, Duration::from_secs(300));
    let c = parse(&[
        "validator",
        "--upkeep.window_secs",
        "2.5",
        "--upkeep.interval_secs",
        "0.5",
        "--upkeep.max_probes",
        "3",
    ]);
    let u = c.upkeep().expect("short windows");
    assert_eq!((u.rule.window, u.interval, u.max_probes), (Duration::from_millis(2500), Duration::from_millis(500), 3));
    let dir = tempfile::tempdir().expect("tmp");
    let file = write(dir.path(), "[upkeep]\nenabled = false\nfail_streak = 5\n");
    let c = parse(&["validator", "--config", &file]);
    assert!(!c.upkeep_enabled);
    assert_eq!(c.upkeep().expect("valid").rule.fail_streak, 5);
    let bad = parse(&["validator", "--upkeep.window_secs", "600", "--upkeep.deprecate_secs", "60"]);
    let e = bad.upkeep().expect_err("deprecation before the window");
    assert!(e.to_string().contains("longer than the window"), "{e}");
    assert!(parse(&["validator", "--upkeep.window_secs=-1"]).upkeep().is_err());
}
