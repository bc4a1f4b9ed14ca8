//! `miner`: parse the config (flags over env over `--config` TOML over defaults), build the node, run it until
//! Ctrl-C or SIGTERM.

use clap::Parser;
use orchestra_miner::node::{MinerConfig, MinerNode};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let argv = orchestra_node::args_with_config_file::<MinerConfig>(std::env::args().collect())?;
    let cfg = MinerConfig::parse_from(argv);
    if cfg.neuron.print_config {
        println!("{cfg:#?}");
        return Ok(());
    }
    orchestra_node::init_tracing(cfg.neuron.log_json);
    let node = MinerNode::new(cfg).await?;
    node.run(orchestra_node::shutdown::on_signal()).await
}
