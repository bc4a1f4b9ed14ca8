//! API keys paid in TAO.
//!
//! The tiers' prices and quotas are the Orchestra README's (the seed): developer 0.1 TAO a month
//! for full schemas and 1,000 lookups a month, production 1 TAO a month for unlimited lookups
//! and webhooks. A buyer:
//!
//! 1. asks for a quote, `POST /v1/keys/quote` ([`QuoteRequest`]): tier, months, and either the
//!    sha256 of a key secret it generated itself (a new key: the secret never travels) or the id
//!    of a key to extend. The validator stores the quote and answers with a random `reference`,
//!    the amount (price × months) and its coldkey ([`QuoteView`]);
//! 2. pays with one extrinsic that binds the reference to the transfer,
//!    `Utility.batch_all([Balances.transfer_keep_alive(pay_to, amount), System.remark_with_event(reference)])`
//!    ([`orchestra_chain::Chain::transfer`]; both calls and both events exist on spec 218 and in
//!    the finney metadata);
//! 3. presents the transaction, `POST /v1/keys/redeem` ([`RedeemRequest`]: the quote and the
//!    block and extrinsic hashes).
//!
//! The validator reads the extrinsic back from its block ([`orchestra_chain::Chain::extrinsic_receipt`])
//! and accepts it only if the block is finalized, the extrinsic succeeded, its signer is the
//! quote's payer (when the buyer named one), its `Balances.Transfer` events move at least the
//! quoted amount from the signer to the validator's coldkey, its `System.Remarked` event carries
//! the BLAKE2 of the reference, and this payment was never accepted before. Then, in one atomic
//! store write, it marks the payment used (persisted in RocksDB, so a restart does not forget),
//! marks the quote redeemed, and issues the key (tier, the seed's quota, expiry = months × 30
//! days) or extends it (from its current expiry, or from now if it expired). Redeeming the same
//! quote with the same payment again answers the same result (a client may retry after a lost
//! answer); anything else is refused with a reason ([`ApiError::Refused`] codes).
//!
//! [`buy_key`] is the buyer's side (`orchestra ledger keys buy`).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orchestra_chain::{Chain, TxRef};
use orchestra_ledger_store::{ApiKey, KeyQuote, PaymentRecord, StoreError, Tier, now_ms};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::LedgerApi;
use crate::error::{ApiError, ErrorBody};

/// One billing month: 30 days.
pub const MONTH_MS: u64 = 30 * 24 * 3600 * 1000;
/// rao per TAO.
pub const RAO_PER_TAO: u64 = 1_000_000_000;
/// Prefix of every payment reference.
pub const REFERENCE_PREFIX: &str = "orchestra-key:";

/// A tier's price and what it buys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierPrice {
    /// rao per month.
    pub rao_per_month: u64,
    /// Successful lookups per calendar month; `None` = unlimited.
    pub monthly_quota: Option<u64>,
}

/// The seed's developer tier: 0.1 TAO a month, 1,000 lookups a month.
pub const SEED_DEVELOPER: TierPrice = TierPrice { rao_per_month: RAO_PER_TAO / 10, monthly_quota: Some(1000) };
/// The seed's production tier: 1 TAO a month, unlimited lookups (and webhooks).
pub const SEED_PRODUCTION: TierPrice = TierPrice { rao_per_month: RAO_PER_TAO, monthly_quota: None };

/// Selling keys for TAO: the chain to check payments on, the coldkey they must reach, prices.
#[derive(Clone)]
pub struct PaymentsConfig {
    /// The chain payments are read back from (the validator's own connection).
    pub chain: Arc<dyn Chain>,
    /// SS58 of the coldkey that is paid (the validator's).
    pub pay_to: String,
    pub developer: TierPrice,
    pub production: TierPrice,
    /// How long a quote can be redeemed after it was made.
    pub quote_ttl: Duration,
    /// Most months one payment buys.
    pub max_months: u32,
}

impl std::fmt::Debug for PaymentsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentsConfig")
            .field("chain", &self.chain.describe())
            .field("pay_to", &self.pay_to)
            .field("developer", &self.developer)
            .field("production", &self.production)
            .finish_non_exhaustive()
    }
}

impl PaymentsConfig {
    /// The seed's prices, paid to `pay_to`, checked on `chain`; quotes live 24 h, up to 24 months.
    pub fn new(chain: Arc<dyn Chain>, pay_to: &str) -> Self {
        PaymentsConfig {
            chain,
            pay_to: pay_to.to_string(),
            developer: SEED_DEVELOPER,
            production: SEED_PRODUCTION,
            quote_ttl: Duration::from_secs(24 * 3600),
            max_months: 24,
        }
    }

    /// The price of a tier that can be bought (developer, production).
    pub fn price(&self, tier: Tier) -> Option<TierPrice> {
        match tier {
            Tier::Developer => Some(self.developer),
            Tier::Production => Some(self.production),
            Tier::Free | Tier::Enterprise => None,
        }
    }
}

// ------------------------------------------------------------------ wire types

/// `GET /v1/keys/prices`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PricesView {
    /// The coldkey payments go to (SS58).
    pub pay_to: String,
    /// The chain the validator checks payments on.
    pub chain: String,
    pub tiers: Vec<TierPriceView>,
    pub max_months: u32,
}

/// One tier's price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TierPriceView {
    #[schema(value_type = String, example = "developer")]
    pub tier: Tier,
    pub rao_per_month: u64,
    /// Lookups per month (`null`: unlimited).
    pub monthly_quota: Option<u64>,
}

/// `POST /v1/keys/quote`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuoteRequest {
    /// `developer` or `production`.
    #[schema(value_type = String, example = "developer")]
    pub tier: Tier,
    /// Months to buy (1 to the validator's maximum).
    pub months: u32,
    /// A new key: lowercase hex sha256 of the secret the buyer generated (`olk_` + 64 hex).
    #[serde(default)]
    pub key_hash: Option<String>,
    /// An extension: the id of the key to extend (same tier).
    #[serde(default)]
    pub extend: Option<String>,
    /// SS58 of the account that will sign the transfer; when given, only its payment is accepted.
    #[serde(default)]
    pub payer: Option<String>,
}

/// A quote: pay `amount_rao` to `pay_to` with `reference` as the remark, then redeem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuoteView {
    pub quote_id: String,
    /// The remark the payment must carry, byte for byte.
    pub reference: String,
    pub pay_to: String,
    pub amount_rao: u64,
    #[schema(value_type = String, example = "developer")]
    pub tier: Tier,
    pub months: u32,
    pub monthly_quota: Option<u64>,
    /// Redeem before this time (Unix ms).
    pub expires_ms: u64,
    /// The extrinsic to submit.
    pub pay_with: String,
}

impl From<&KeyQuote> for QuoteView {
    fn from(q: &KeyQuote) -> Self {
        QuoteView {
            quote_id: q.id.clone(),
            reference: q.reference.clone(),
            pay_to: q.pay_to.clone(),
            amount_rao: q.amount_rao,
            tier: q.tier,
            months: q.months,
            monthly_quota: q.monthly_quota,
            expires_ms: q.expires_ms,
            pay_with: format!(
                "Utility.batch_all([Balances.transfer_keep_alive({}, {}), System.remark_with_event({:?})])",
                q.pay_to, q.amount_rao, q.reference
            ),
        }
    }
}

/// `POST /v1/keys/redeem`: the quote and where its payment is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RedeemRequest {
    pub quote_id: String,
    /// Block hash (`0x` hex; subtensor).
    #[serde(default)]
    pub block_hash: Option<String>,
    /// Block number (the devnet finds blocks by number).
    #[serde(default)]
    pub block_number: Option<u64>,
    /// Extrinsic hash (`0x` hex).
    pub extrinsic_hash: String,
}

impl RedeemRequest {
    fn tx_ref(&self) -> TxRef {
        TxRef {
            block_hash: self.block_hash.clone(),
            block_number: self.block_number,
            extrinsic_hash: self.extrinsic_hash.clone(),
        }
    }
}

/// A redeemed quote: the key issued or extended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RedeemView {
    pub key_id: String,
    #[schema(value_type = String, example = "developer")]
    pub tier: Tier,
    /// Whether an existing key was extended (otherwise a new key was issued).
    pub extended: bool,
    /// The key works until this time (Unix ms).
    pub key_expires_ms: u64,
    pub monthly_quota: Option<u64>,
    /// `{block}-{extrinsic index}`: never accepted again.
    pub payment_id: String,
    pub amount_rao: u64,
}

fn redeem_view(q: &KeyQuote, p: &PaymentRecord) -> RedeemView {
    RedeemView {
        key_id: p.key_id.clone(),
        tier: q.tier,
        extended: q.extend_key.is_some(),
        key_expires_ms: p.key_expires_ms,
        monthly_quota: q.monthly_quota,
        payment_id: p.id.clone(),
        amount_rao: p.amount_rao,
    }
}

// ------------------------------------------------------------------ server

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Refused { status, code, message: message.into(), retry_after_secs: None }
}

fn payments(api: &LedgerApi) -> Result<&PaymentsConfig, ApiError> {
    api.inner.config.payments.as_ref().ok_or_else(|| {
        refused(501, "payments_disabled", "this Ledger API does not sell keys for TAO (ask the operator for a key)")
    })
}

/// `0.1 TAO`, `1 TAO`, `2.500000001 TAO`.
pub fn tao(rao: u64) -> String {
    let (whole, frac) = (rao / RAO_PER_TAO, rao % RAO_PER_TAO);
    if frac == 0 {
        format!("{whole} TAO")
    } else {
        format!("{whole}.{} TAO", format!("{frac:09}").trim_end_matches('0'))
    }
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(format!("payments task: {e}")))?
}

/// Prices of the tiers sold for TAO, and where to pay.
#[utoipa::path(get, path = "/v1/keys/prices", tag = "keys",
    responses(
        (status = 200, body = PricesView),
        (status = 501, description = "This API does not sell keys (`payments_disabled`)", body = ErrorBody),
    ),
    security(()))]
pub(crate) async fn prices(State(api): State<LedgerApi>) -> Result<Response, ApiError> {
    let p = payments(&api)?;
    let tiers = [Tier::Developer, Tier::Production]
        .into_iter()
        .filter_map(|t| {
            p.price(t).map(|pr| TierPriceView {
                tier: t,
                rao_per_month: pr.rao_per_month,
                monthly_quota: pr.monthly_quota,
            })
        })
        .collect();
    Ok(Json(PricesView { pay_to: p.pay_to.clone(), chain: p.chain.describe(), tiers, max_months: p.max_months })
        .into_response())
}

/// Quote a key (new, or an extension) to be paid in TAO.
#[utoipa::path(post, path = "/v1/keys/quote", tag = "keys", request_body = QuoteRequest,
    responses(
        (status = 201, body = QuoteView),
        (status = 400, description = "`bad_quote`: tier, months, key hash or key to extend", body = ErrorBody),
        (status = 404, description = "No key to extend", body = ErrorBody),
        (status = 501, description = "`payments_disabled`", body = ErrorBody),
    ),
    security(()))]
pub(crate) async fn quote(
    State(api): State<LedgerApi>,
    body: Result<Json<QuoteRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = payments(&api)?.clone();
    let Json(req) = body.map_err(|e| ApiError::bad("bad_quote", format!("body: {e}")))?;
    let price = p
        .price(req.tier)
        .ok_or_else(|| ApiError::bad("bad_quote", "only the developer and production tiers are sold for TAO"))?;
    if req.months == 0 || req.months > p.max_months {
        return Err(ApiError::bad("bad_quote", format!("months must be 1 to {}", p.max_months)));
    }
    if let Some(payer) = &req.payer {
        orchestra_keys::PublicKey::from_ss58(payer)
            .map_err(|e| ApiError::bad("bad_quote", format!("payer {payer:?}: {e}")))?;
    }
    let store = api.inner.store.clone();
    let q = blocking(move || {
        match (&req.key_hash, &req.extend) {
            (Some(h), None) => {
                if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
                    return Err(ApiError::bad(
                        "bad_quote",
                        "key_hash must be 64 lowercase hex digits (sha256 of the secret)",
                    ));
                }
                if store.api_key_by_hash(h)?.is_some() {
                    return Err(ApiError::bad("bad_quote", "a key with this hash exists; generate a new secret"));
                }
            }
            (None, Some(id)) => {
                let k = store.api_key_by_id(id)?.ok_or_else(|| ApiError::NotFound(format!("no key with id `{id}`")))?;
                if k.revoked {
                    return Err(ApiError::bad("bad_quote", format!("key {id} is revoked")));
                }
                if k.tier != req.tier {
                    return Err(ApiError::bad(
                        "bad_quote",
                        format!("key {id} is {}; extend it in its own tier", crate::error::tier_name(k.tier)),
                    ));
                }
                if k.expires_ms.is_none() {
                    return Err(ApiError::bad("bad_quote", format!("key {id} does not expire; nothing to extend")));
                }
            }
            _ => return Err(ApiError::bad("bad_quote", "give either key_hash (a new key) or extend (a key id)")),
        }
        let now = now_ms();
        let id = random_hex(16);
        let q = KeyQuote {
            reference: format!("{REFERENCE_PREFIX}{id}"),
            id,
            tier: req.tier,
            months: req.months,
            amount_rao: price.rao_per_month.saturating_mul(u64::from(req.months)),
            pay_to: p.pay_to.clone(),
            payer: req.payer.clone(),
            key_hash: req.key_hash.clone(),
            extend_key: req.extend.clone(),
            monthly_quota: price.monthly_quota,
            created_ms: now,
            expires_ms: now + p.quote_ttl.as_millis() as u64,
            redeemed: None,
        };
        store.put_quote(&q)?;
        Ok(q)
    })
    .await?;
    tracing::info!(quote = %q.id, tier = ?q.tier, months = q.months, amount = %tao(q.amount_rao), "key quote");
    Ok((StatusCode::CREATED, Json(QuoteView::from(&q))).into_response())
}

/// Redeem a paid quote: the validator checks the payment on chain and issues or extends the key.
#[utoipa::path(post, path = "/v1/keys/redeem", tag = "keys", request_body = RedeemRequest,
    responses(
        (status = 200, description = "The key was issued or extended (or was, by this same payment)", body = RedeemView),
        (status = 404, description = "`quote_not_found`, `payment_not_found`", body = ErrorBody),
        (status = 501, description = "`payments_disabled`", body = ErrorBody),
        (status = 409, description = "`payment_not_finalized` (retry), `quote_redeemed`, `payment_reused`", body = ErrorBody),
        (status = 410, description = "`quote_expired`", body = ErrorBody),
        (status = 422, description = "`payment_failed`, `wrong_payer`, `wrong_recipient`, `short_payment`, `reference_mismatch`", body = ErrorBody),
        (status = 503, description = "`chain_unavailable`", body = ErrorBody),
    ),
    security(()))]
pub(crate) async fn redeem(
    State(api): State<LedgerApi>,
    body: Result<Json<RedeemRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = payments(&api)?.clone();
    let Json(req) = body.map_err(|e| ApiError::bad("bad_request", format!("body: {e}")))?;
    let store = api.inner.store.clone();
    let q = {
        let (store, id) = (store.clone(), req.quote_id.clone());
        blocking(move || Ok(store.quote(&id)?)).await?
    }
    .ok_or_else(|| refused(404, "quote_not_found", format!("no quote {}", req.quote_id)))?;
    let receipt = p.chain.extrinsic_receipt(&req.tx_ref()).await.map_err(|e| match e {
        orchestra_chain::ChainError::InvalidInput(m) => ApiError::bad("bad_request", m),
        other => {
            refused(503, "chain_unavailable", format!("cannot read the payment from {}: {other}", p.chain.describe()))
        }
    })?;
    let r = receipt.ok_or_else(|| {
        refused(
            404,
            "payment_not_found",
            format!(
                "no extrinsic {} in block {} on {}",
                req.extrinsic_hash,
                req.block_hash.clone().or(req.block_number.map(|n| n.to_string())).unwrap_or_default(),
                p.chain.describe()
            ),
        )
    })?;
    let payment_id = format!("{}-{}", r.block_number, r.extrinsic_index);
    if let Some(done) = &q.redeemed {
        if done.id == payment_id {
            return Ok(Json(redeem_view(&q, done)).into_response());
        }
        return Err(refused(409, "quote_redeemed", format!("quote {} was redeemed with payment {}", q.id, done.id)));
    }
    let used = {
        let (store, id) = (store.clone(), payment_id.clone());
        blocking(move || Ok(store.payment(&id)?)).await?
    };
    if let Some(u) = used {
        return Err(refused(
            409,
            "payment_reused",
            format!(
                "payment {payment_id} was used already (quote {}, key {}); each payment buys once",
                u.quote_id, u.key_id
            ),
        ));
    }
    let now = now_ms();
    if now > q.expires_ms {
        return Err(refused(410, "quote_expired", format!("quote {} expired; ask for a new one", q.id)));
    }
    if !r.finalized {
        return Err(ApiError::Refused {
            status: 409,
            code: "payment_not_finalized",
            message: format!("block {} is not finalized yet; retry shortly", r.block_number),
            retry_after_secs: Some(2),
        });
    }
    if !r.success {
        return Err(refused(
            422,
            "payment_failed",
            format!("extrinsic {payment_id} failed on chain: nothing was paid"),
        ));
    }
    let signer = r.signer.clone().ok_or_else(|| refused(422, "payment_failed", "the extrinsic is not signed"))?;
    if let Some(payer) = &q.payer
        && *payer != signer
    {
        return Err(refused(
            422,
            "wrong_payer",
            format!("the quote is for payer {payer}; {signer} signed the transfer"),
        ));
    }
    let paid = r.paid(&signer, &q.pay_to);
    if paid == 0 {
        let to: Vec<&str> = r.transfers.iter().map(|t| t.to.as_str()).collect();
        return Err(refused(
            422,
            "wrong_recipient",
            format!("the extrinsic pays nothing to this validator's coldkey {} (transfers to {to:?})", q.pay_to),
        ));
    }
    if paid < q.amount_rao {
        return Err(refused(
            422,
            "short_payment",
            format!(
                "paid {} but the quote is {} ({} month(s) of {})",
                tao(paid),
                tao(q.amount_rao),
                q.months,
                crate::error::tier_name(q.tier)
            ),
        ));
    }
    if !r.has_remark(&signer, q.reference.as_bytes()) {
        return Err(refused(
            422,
            "reference_mismatch",
            format!("the extrinsic does not carry the quote's reference {:?} as a remark", q.reference),
        ));
    }
    // Issue or extend, atomically with marking the payment used.
    let (store2, q2) = (store.clone(), q.clone());
    let r2 = r.clone();
    let result = blocking(move || {
        let months_ms = MONTH_MS.saturating_mul(u64::from(q2.months));
        let key = match (&q2.key_hash, &q2.extend_key) {
            (Some(hash), _) => ApiKey {
                id: format!("key_{}", random_hex(8)),
                key_hash: hash.clone(),
                tier: q2.tier,
                name: format!("paid {}", r2.block_number),
                created_ms: now,
                revoked: false,
                monthly_quota: q2.monthly_quota,
                rate_per_sec: None,
                expires_ms: Some(now + months_ms),
            },
            (None, Some(id)) => {
                let mut k =
                    store2.api_key_by_id(id)?.ok_or_else(|| ApiError::NotFound(format!("no key with id `{id}`")))?;
                let from = k.expires_ms.unwrap_or(now).max(now);
                k.expires_ms = Some(from + months_ms);
                k.monthly_quota = q2.monthly_quota;
                k
            }
            (None, None) => return Err(ApiError::Internal(format!("quote {} names no key", q2.id))),
        };
        let record = PaymentRecord {
            id: payment_id.clone(),
            quote_id: q2.id.clone(),
            key_id: key.id.clone(),
            payer: signer.clone(),
            amount_rao: paid,
            block_number: r2.block_number,
            block_hash: r2.block_hash.clone(),
            extrinsic_hash: r2.extrinsic_hash.clone(),
            tier: q2.tier,
            months: q2.months,
            key_expires_ms: key.expires_ms.unwrap_or(0),
            at_ms: now,
        };
        match store2.redeem_quote(&record, &key) {
            Ok(q) => Ok((q, record)),
            Err(StoreError::Conflict(m)) => {
                // A concurrent redeem of this same quote with this same payment won the race:
                // answer what it did, as a repeated redeem would get.
                match store2.quote(&q2.id)? {
                    Some(q) if q.redeemed.as_ref().is_some_and(|p| p.id == record.id) => {
                        let done = q.redeemed.clone().unwrap_or(record);
                        Ok((q, done))
                    }
                    _ => Err(refused(409, "payment_reused", m)),
                }
            }
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    let (q, record) = result;
    tracing::info!(
        quote = %q.id, key_id = %record.key_id, payment = %record.id, paid = %tao(record.amount_rao),
        extended = q.extend_key.is_some(), "key paid in TAO"
    );
    Ok(Json(redeem_view(&q, &record)).into_response())
}

// ------------------------------------------------------------------ buyer

/// What [`buy_key`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Purchase {
    /// The new key's secret (`None` for an extension).
    pub key: Option<String>,
    pub quote: QuoteView,
    /// Where the payment is.
    pub paid: orchestra_chain::TxOutcome,
    pub redeemed: RedeemView,
}

/// A purchase that paid but could not be redeemed yet: everything needed to redeem it later
/// (`orchestra ledger keys redeem`).
#[derive(Debug)]
pub struct Unredeemed {
    pub key: Option<String>,
    pub quote: QuoteView,
    pub paid: orchestra_chain::TxOutcome,
    pub error: ApiError,
}

/// Errors of [`buy_key`].
#[derive(Debug, thiserror::Error)]
pub enum BuyError {
    /// Nothing was paid.
    #[error("{0}")]
    BeforePayment(ApiError),
    #[error("the transfer failed, nothing was paid: {0}")]
    Transfer(orchestra_chain::ChainError),
    /// Paid, but the validator did not (yet) issue the key.
    #[error("paid (block {block}, extrinsic {xt}) but not redeemed: {}", .0.error, block = .0.paid.block_hash.clone().or(.0.paid.block_number.map(|n| n.to_string())).unwrap_or_default(), xt = .0.paid.extrinsic_hash.clone().unwrap_or_default())]
    Unredeemed(Box<Unredeemed>),
}

/// A new key secret (`olk_` + 64 hex) and its hash.
pub fn new_secret() -> (String, String) {
    let secret = format!("{}{}", crate::auth::KEY_PREFIX, random_hex(32));
    let hash = crate::auth::hash_key(&secret);
    (secret, hash)
}

/// Buys (or, with `extend`, extends) a key of `tier` for `months` from the Ledger API at
/// `client`: quote, pay through `chain` (signed by its coldkey), redeem, retrying while the
/// payment's block is not finalized (up to `finality_wait`).
pub async fn buy_key(
    client: &crate::LedgerClient,
    chain: &dyn Chain,
    tier: Tier,
    months: u32,
    extend: Option<&str>,
    payer: Option<&str>,
    finality_wait: Duration,
) -> Result<Purchase, BuyError> {
    let (secret, hash) = match extend {
        Some(_) => (None, None),
        None => {
            let (s, h) = new_secret();
            (Some(s), Some(h))
        }
    };
    let req = QuoteRequest {
        tier,
        months,
        key_hash: hash,
        extend: extend.map(str::to_string),
        payer: payer.map(str::to_string),
    };
    let quote = client.key_quote(&req).await.map_err(BuyError::BeforePayment)?;
    let paid = chain
        .transfer(&quote.pay_to, quote.amount_rao, Some(quote.reference.as_bytes()))
        .await
        .map_err(BuyError::Transfer)?;
    let redeem = RedeemRequest {
        quote_id: quote.quote_id.clone(),
        block_hash: paid.block_hash.clone(),
        block_number: paid.block_number,
        extrinsic_hash: paid.extrinsic_hash.clone().unwrap_or_default(),
    };
    match redeem_with_retry(client, &redeem, finality_wait).await {
        Ok(redeemed) => Ok(Purchase { key: secret, quote, paid, redeemed }),
        Err(error) => Err(BuyError::Unredeemed(Box::new(Unredeemed { key: secret, quote, paid, error }))),
    }
}

/// `POST /v1/keys/redeem`, again while the answer is `payment_not_finalized` (or the chain is
/// briefly unavailable), for up to `wait`.
pub async fn redeem_with_retry(
    client: &crate::LedgerClient,
    req: &RedeemRequest,
    wait: Duration,
) -> Result<RedeemView, ApiError> {
    let start = std::time::Instant::now();
    loop {
        match client.key_redeem(req).await {
            Err(ApiError::Remote { code, .. })
                if (code == "payment_not_finalized" || code == "chain_unavailable") && start.elapsed() < wait =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tao_amounts_read_well() {
        assert_eq!(tao(100_000_000), "0.1 TAO");
        assert_eq!(tao(1_000_000_000), "1 TAO");
        assert_eq!(tao(2_500_000_001), "2.500000001 TAO");
        assert_eq!(tao(0), "0 TAO");
    }

    #[test]
    fn seed_prices() {
        assert_eq!(SEED_DEVELOPER.rao_per_month, 100_000_000, "0.1 TAO a month");
        assert_eq!(SEED_DEVELOPER.monthly_quota, Some(1000));
        assert_eq!(SEED_PRODUCTION.rao_per_month, RAO_PER_TAO);
        assert_eq!(SEED_PRODUCTION.monthly_quota, None);
    }
}
