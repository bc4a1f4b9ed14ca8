//! A local subtensor **simulator** for development and tests. It is not a chain: no consensus,
//! no blocks to sync, no runtime. Real networks (finney, testnet, a local subtensor node) always
//! go through the subtensor backend of `orchestra_chain`.
//!
//! What it simulates, with subtensor's checks in subtensor's order and subtensor's error names:
//! subnets and their owners and hyperparameters, `burned_register` with uid assignment and
//! pruning (lowest emission among non-immune uids), `serve_axon`, `set_weights`, commit-reveal
//! v2 (`commit_weights` / `reveal_weights`, the chain's BLAKE2 hash), commitments with
//! `MaxSpace`, balances, stake and transfers (a transfer with a remark stands for
//! `Utility.batch_all([transfer_keep_alive, remark_with_event])` and is recorded in its block with
//! its events, so a payee can read it back; a block is final once the next one is being built),
//! and tempo epochs that run Yuma Consensus
//! (`orchestra_yuma::epoch`, on-chain fidelity) and pay incentive and dividends into stake.
//!
//! Layers, kept apart so another transport (Substrate JSON-RPC) can serve the same state later:
//! - [`state`]: the rules, a pure state machine (no I/O, no clock);
//! - [`store`]: persistence in RocksDB through `orchestra_store` (one atomic, synced
//!   batch per applied extrinsic and per block; a restart restores the state and nonces exactly);
//! - [`server`]: the HTTP JSON API of `orchestra_chain::devnet_api`, which
//!   `orchestra_chain::devnet::DevnetClient` speaks, plus [`admin`] routes for local setup,
//!   `/metrics` and `/healthz`, and the block timer.
//!
//! Deliberate differences from subtensor (see also [`state::SubnetParams::devnet_defaults`]):
//! staking is 1:1 TAO to alpha (no AMM, no delegation take, no child keys); registration cost is
//! constant (`burn`, settable by the owner); there is no registration-per-block or per-interval
//! limit and no `MinNonImmuneUids` floor; only mechanism 0 exists; timelocked (drand)
//! commit-reveal is not simulated; emission is a fixed amount per block and subnet, with the
//! owner cut paid to the owner's free balance; loopback axon IPs are accepted unless
//! [`server::DevnetConfig::allow_loopback_axons`] is off; epochs follow the legacy schedule
//! `(block + netuid + 1) % (tempo + 1) == 0`.

pub mod admin;
mod error;
pub mod server;
pub mod state;
pub mod store;

pub use admin::{AdminCall, AdminClient, AdminRequest};
pub use error::DevnetError;
pub use server::{DevnetConfig, DevnetServer, RunningDevnet};
pub use state::{DevnetState, SubnetParams};
