//! Signing and submitting extrinsics: the sr25519 [`KeypairSigner`], a dry run
//! (`validate_transaction`) that names pool rejections before anything is broadcast, then
//! submission and the wait for inclusion (or finalization), with every failure mapped to a named
//! [`ChainError`] (see [`super::tx_errors`]).

use std::fmt;

use orchestra_keys::Keypair;
use subxt::config::transaction_extensions::CheckMortalityParams;
use subxt::extrinsics::ExtrinsicEvents;
use subxt::tx::{Signer, TransactionStatus, ValidationResult};
use subxt::utils::{AccountId32, MultiSignature};

use super::connection::Conn;
use super::tx_errors::{events_error, invalid_from_message, invalid_transaction, submit_error, unknown_transaction};
use super::{SubtensorChain, SubtensorConfig, TxParams, calls, rpc_err};
use crate::ChainError;
use crate::types::{SignerRole, TxOutcome};

/// Signs extrinsics with an sr25519 [`Keypair`] (a hotkey or coldkey).
#[derive(Clone)]
pub struct KeypairSigner {
    account: AccountId32,
    key: Keypair,
}

impl fmt::Debug for KeypairSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeypairSigner").field("account", &self.key.ss58()).finish()
    }
}

impl KeypairSigner {
    /// A signer for `key`.
    pub fn new(key: Keypair) -> Self {
        KeypairSigner { account: AccountId32(key.public().0), key }
    }

    /// The signer's SS58 address.
    pub fn ss58(&self) -> &str {
        self.key.ss58()
    }
}

impl Signer<SubtensorConfig> for KeypairSigner {
    fn account_id(&self) -> AccountId32 {
        self.account
    }

    fn sign(&self, signer_payload: &[u8]) -> MultiSignature {
        MultiSignature::Sr25519(self.key.sign(signer_payload))
    }
}

impl SubtensorChain {
    pub(super) fn signer(&self, role: SignerRole) -> Result<&KeypairSigner, ChainError> {
        match role {
            SignerRole::Hotkey => self.hotkey.as_ref(),
            SignerRole::Coldkey => self.coldkey.as_ref(),
        }
        .ok_or(ChainError::MissingSigner(role.as_str()))
    }

    /// Signs `call` with `signer`, dry-runs it, submits it and waits for inclusion (or
    /// finalization), mapping every failure to a named [`ChainError`] where the chain named it.
    pub(super) async fn submit(&self, signer: &KeypairSigner, call: calls::Call) -> Result<TxOutcome, ChainError> {
        self.submit_with_events(signer, call).await.map(|(outcome, _)| outcome)
    }

    /// [`SubtensorChain::submit`], also returning the extrinsic's events.
    pub(super) async fn submit_with_events(
        &self,
        signer: &KeypairSigner,
        call: calls::Call,
    ) -> Result<(TxOutcome, ExtrinsicEvents<SubtensorConfig>), ChainError> {
        let conn = self.conn().await?;
        let fut = self.submit_on(conn, signer, call);
        tokio::time::timeout(self.opts.tx_timeout, fut)
            .await
            .map_err(|_| ChainError::Timeout { what: "transaction", after: self.opts.tx_timeout })?
    }

    async fn submit_on(
        &self,
        conn: Conn,
        signer: &KeypairSigner,
        call: calls::Call,
    ) -> Result<(TxOutcome, ExtrinsicEvents<SubtensorConfig>), ChainError> {
        let at = conn.api.at_current_block().await.map_err(rpc_err)?;
        self.ensure_checked(at.metadata(), at.spec_version(), at.transaction_version())?;
        // The pool-aware nonce (`system_accountNextIndex`), as the Python SDK uses: the runtime API
        // at the finalized block would miss this key's transactions still in the pool.
        let nonce = conn.legacy().system_account_next_index(&signer.account).await.map_err(rpc_err)?;
        let params = TxParams {
            tip: self.opts.tip,
            mortality: CheckMortalityParams::mortal_from_unchecked(
                self.opts.mortality_blocks,
                at.block_number(),
                at.block_hash(),
            ),
            nonce: Some(nonce),
        };
        let tx = at
            .tx()
            .create_v4_signable_offline(&call, params.into_params())
            .and_then(|mut s| s.sign(signer))
            .map_err(|e| ChainError::Metadata(format!("cannot build the transaction: {e}")))?;
        if self.opts.validate_before_submit {
            match tx.validate().await.map_err(rpc_err)? {
                ValidationResult::Valid(_) => {}
                ValidationResult::Invalid(i) => return Err(invalid_transaction(&i)),
                ValidationResult::Unknown(u) => return Err(unknown_transaction(&u)),
            }
        }
        let mut progress = tx.submit_and_watch().await.map_err(|e| submit_error(&e))?;
        let extrinsic_hash = Some(format!("{:?}", progress.extrinsic_hash()));
        while let Some(status) = progress.next().await {
            let in_block = match status.map_err(rpc_err)? {
                TransactionStatus::InBestBlock(b) if !self.opts.wait_for_finalization => b,
                TransactionStatus::InFinalizedBlock(b) => b,
                TransactionStatus::Invalid { message } => return Err(invalid_from_message(&message)),
                TransactionStatus::Error { message } | TransactionStatus::Dropped { message } => {
                    return Err(ChainError::NotIncluded(message));
                }
                _ => continue,
            };
            let events = in_block.wait_for_success().await.map_err(|e| events_error(&e))?;
            let block_number = in_block.at().await.ok().map(|c| c.block_number());
            let outcome =
                TxOutcome { block_hash: Some(format!("{:?}", in_block.block_hash())), block_number, extrinsic_hash };
            return Ok((outcome, events));
        }
        Err(ChainError::NotIncluded("the node closed the transaction status stream".into()))
    }
}
