//! API keys paid in TAO, end to end over real HTTP and a real chain backend: the Ledger API sells
//! keys (`/v1/keys/quote`, `/v1/keys/redeem`), a buyer pays through the `Chain` trait
//! (`Utility.batch_all([transfer_keep_alive, remark_with_event])`), and the API checks the
//! payment on chain. The same scenario runs on the in-process devnet (always) and on the real
//! subtensor runtime (spec 218 under chopsticks; skipped with a printed reason when chopsticks is
//! not installed, a failure under ORCHESTRA_REQUIRE_CHOPSTICKS=1).
//!
//! A paid developer key works for its quota, then gets 429; a reused transfer, a short payment,
//! a transfer to another account, an unconfirmed (not finalized, or not on chain) transfer, a
//! transfer without the quote's reference and one from another payer are refused with their
//! reason; a repeated redeem answers the same key; an extension moves the expiry by a month.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../chain/tests/chopsticks/mod.rs"]
mod chopsticks;
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use orchestra_chain::{Chain, ChainAdmin, TxOutcome};
use orchestra_keys::Keypair;
use orchestra_ledger_api::payments::{
    MONTH_MS, PaymentsConfig, QuoteRequest, QuoteView, RedeemRequest, buy_key, new_secret,
};
use orchestra_ledger_api::{ApiConfig, ApiError, LedgerClient};
use orchestra_ledger_store::Tier;
use orchestra_proto::ledger::EntryStatus;

/// Developer keys sold here carry a quota of 3 lookups, so the test reaches it.
const QUOTA: u64 = 3;
const DEV_PRICE: u64 = 100_000_000;

struct Backend {
    name: &'static str,
    /// Reads payments (the validator's side).
    validator: Arc<dyn Chain>,
    /// Pays: signs with the buyer's coldkey (//Alice).
    buyer: Arc<dyn Chain>,
    admin: Arc<dyn ChainAdmin>,
    /// Whether a block is finalized only once the next one is made (the devnet).
    lagging_finality: bool,
}

fn ss58(uri: &str) -> String {
    Keypair::from_uri(uri).unwrap().ss58().to_string()
}

fn code(e: ApiError) -> String {
    match e {
        ApiError::Remote { code, message, .. } => {
            println!("    refused: {code}: {message}");
            code
        }
        other => panic!("expected a refusal, got {other}"),
    }
}

fn redeem_req(q: &QuoteView, paid: &TxOutcome) -> RedeemRequest {
    RedeemRequest {
        quote_id: q.quote_id.clone(),
        block_hash: paid.block_hash.clone(),
        block_number: paid.block_number,
        extrinsic_hash: paid.extrinsic_hash.clone().expect("the outcome names the extrinsic"),
    }
}

async fn quote(client: &LedgerClient, months: u32, payer: Option<&str>) -> QuoteView {
    let (_, hash) = new_secret();
    client
        .key_quote(&QuoteRequest {
            tier: Tier::Developer,
            months,
            key_hash: Some(hash),
            extend: None,
            payer: payer.map(str::to_string),
        })
        .await
        .expect("quote")
}

/// On the devnet, a block every 300 ms while a purchase waits for finality (abort it after).
fn ticker(b: &Backend) -> Option<tokio::task::JoinHandle<()>> {
    b.lagging_finality.then(|| {
        let admin = b.admin.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                admin.advance_blocks(1).await.expect("advance");
            }
        })
    })
}

async fn scenario(b: &Backend) {
    let name = b.name;
    let t = Instant::now();
    let pay_to = ss58("//Dave");
    let alice = ss58("//Alice");
    let mut payments = PaymentsConfig::new(b.validator.clone(), &pay_to);
    payments.developer.monthly_quota = Some(QUOTA);
    let config = ApiConfig { payments: Some(payments), ..ApiConfig::default() };
    let server = common::start(config, vec![common::entry(7, &["search"], EntryStatus::Verified, None)]).await;
    let client = LedgerClient::new(&server.base, None).unwrap();
    let prices = client.key_prices().await.unwrap();
    assert_eq!(prices.pay_to, pay_to);
    println!("[{name}] prices {prices:?}");
    let finalize = || async {
        b.admin.advance_blocks(1).await.expect("advance");
    };

    // 1. Buy a developer key: quote, pay, redeem (retrying until the block is finalized).
    let tick = ticker(b);
    let bought = buy_key(&client, b.buyer.as_ref(), Tier::Developer, 1, None, Some(&alice), Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("[{name}] buy a developer key: {e}"));
    if let Some(t) = tick {
        t.abort();
    }
    println!("[{name}] bought {:?} paid at {:?}", bought.redeemed, bought.paid);
    let key = bought.key.clone().expect("a new key's secret");
    assert_eq!(bought.redeemed.tier, Tier::Developer);
    assert_eq!(bought.redeemed.monthly_quota, Some(QUOTA));
    assert_eq!(bought.redeemed.amount_rao, DEV_PRICE);
    let expires = bought.redeemed.key_expires_ms;
    let now = orchestra_ledger_store::now_ms();
    assert!(expires > now + MONTH_MS - 60_000 && expires <= now + MONTH_MS, "[{name}] a month from now");

    // 2. The key works for its quota, then 429.
    for i in 0..QUOTA {
        let r = server.get("/v1/subnets/7/schema", Some(&key)).await;
        assert_eq!(r.status(), 200, "[{name}] lookup {} of {QUOTA}", i + 1);
    }
    let r = server.get("/v1/subnets/7/schema", Some(&key)).await;
    assert_eq!(r.status(), 429, "[{name}] past the quota");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "quota_exceeded");

    // 3. A repeated redeem of the same quote and payment answers the same key (lost answers).
    let again = client.key_redeem(&redeem_req(&bought.quote, &bought.paid)).await.expect("idempotent redeem");
    assert_eq!(again.key_id, bought.redeemed.key_id);

    // 4. Reused: another quote presented with the first key's payment.
    let q = quote(&client, 1, None).await;
    assert_eq!(code(client.key_redeem(&redeem_req(&q, &bought.paid)).await.unwrap_err()), "payment_reused");

    // 5. Short: two months quoted, one paid.
    let q = quote(&client, 2, None).await;
    assert_eq!(q.amount_rao, 2 * DEV_PRICE);
    let paid = b.buyer.transfer(&q.pay_to, DEV_PRICE, Some(q.reference.as_bytes())).await.expect("pay");
    finalize().await;
    assert_eq!(code(client.key_redeem(&redeem_req(&q, &paid)).await.unwrap_err()), "short_payment");

    // 6. Wrong recipient: the amount goes to //Eve, not to the validator's coldkey.
    let q = quote(&client, 1, None).await;
    let paid = b.buyer.transfer(&ss58("//Eve"), q.amount_rao, Some(q.reference.as_bytes())).await.expect("pay");
    finalize().await;
    assert_eq!(code(client.key_redeem(&redeem_req(&q, &paid)).await.unwrap_err()), "wrong_recipient");

    // 7. Unconfirmed: an extrinsic that is not on chain; on the devnet also one whose block is
    //    not finalized yet. Once finalized, the same quote redeems.
    let q = quote(&client, 1, None).await;
    let paid = b.buyer.transfer(&q.pay_to, q.amount_rao, Some(q.reference.as_bytes())).await.expect("pay");
    if b.lagging_finality {
        assert_eq!(code(client.key_redeem(&redeem_req(&q, &paid)).await.unwrap_err()), "payment_not_finalized");
    }
    let mut forged = redeem_req(&q, &paid);
    forged.extrinsic_hash = format!("0x{}", "42".repeat(32));
    assert_eq!(code(client.key_redeem(&forged).await.unwrap_err()), "payment_not_found");
    finalize().await;
    let late = client.key_redeem(&redeem_req(&q, &paid)).await.expect("redeem once finalized");
    assert!(!late.extended);

    // 8. The right amount to the right account, but without the quote's reference.
    let q = quote(&client, 1, None).await;
    let paid = b.buyer.transfer(&q.pay_to, q.amount_rao, Some(b"orchestra-key:someone-else")).await.expect("pay");
    finalize().await;
    assert_eq!(code(client.key_redeem(&redeem_req(&q, &paid)).await.unwrap_err()), "reference_mismatch");

    // 9. A quote for another payer, paid by //Alice.
    let q = quote(&client, 1, Some(&ss58("//Bob"))).await;
    let paid = b.buyer.transfer(&q.pay_to, q.amount_rao, Some(q.reference.as_bytes())).await.expect("pay");
    finalize().await;
    assert_eq!(code(client.key_redeem(&redeem_req(&q, &paid)).await.unwrap_err()), "wrong_payer");

    // 10. Extend the first key by a month.
    let tick = ticker(b);
    let ext = buy_key(
        &client,
        b.buyer.as_ref(),
        Tier::Developer,
        1,
        Some(&bought.redeemed.key_id),
        None,
        Duration::from_secs(60),
    )
    .await
    .unwrap_or_else(|e| panic!("[{name}] extend: {e}"));
    if let Some(t) = tick {
        t.abort();
    }
    assert!(ext.key.is_none() && ext.redeemed.extended);
    assert_eq!(ext.redeemed.key_id, bought.redeemed.key_id);
    assert_eq!(ext.redeemed.key_expires_ms, expires + MONTH_MS, "[{name}] one more month");

    // 11. Bad quotes.
    let bad = |tier, months| QuoteRequest { tier, months, key_hash: Some(new_secret().1), extend: None, payer: None };
    assert_eq!(code(client.key_quote(&bad(Tier::Enterprise, 1)).await.unwrap_err()), "bad_quote");
    assert_eq!(code(client.key_quote(&bad(Tier::Developer, 0)).await.unwrap_err()), "bad_quote");

    // Every accepted payment is on record, once.
    let accepted = server.store.payments().unwrap();
    assert_eq!(accepted.len(), 3, "[{name}] the purchase, the late redeem, the extension: {accepted:?}");
    let payee = b.validator.free_balance(&pay_to).await.unwrap();
    println!(
        "[{name}] {} payments accepted; {pay_to} holds {payee} rao; {:.1} s",
        accepted.len(),
        t.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_keys_on_the_devnet() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = orchestra_devnet::DevnetConfig::new(dir.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.block_time_ms = 0;
    cfg.sync_writes = false;
    let devnet = orchestra_devnet::DevnetServer::new(cfg).unwrap().spawn();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let validator: Arc<dyn Chain> =
        Arc::new(orchestra_chain::devnet::DevnetClient::connect(&devnet.url).await.unwrap());
    let buyer: Arc<dyn Chain> = Arc::new(
        orchestra_chain::devnet::DevnetClient::connect(&devnet.url).await.unwrap().with_coldkey(alice.clone()),
    );
    let admin: Arc<dyn ChainAdmin> = Arc::new(orchestra_devnet::AdminClient::new(&devnet.url, alice).unwrap());
    scenario(&Backend { name: "devnet", validator, buyer, admin, lagging_finality: true }).await;
    devnet.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_keys_on_the_subtensor_runtime() {
    let Some(rt) = chopsticks::start("paid API keys") else { return };
    use orchestra_chain::subtensor::{Network, SubtensorChain, SubtensorOptions};
    let opts = || SubtensorOptions {
        tx_timeout: Duration::from_secs(240),
        request_timeout: Duration::from_secs(120),
        ..SubtensorOptions::default()
    };
    let connect = || async { SubtensorChain::connect(Network::Custom(rt.url.clone()), opts()).await.expect("connect") };
    let validator: Arc<dyn Chain> = Arc::new(connect().await);
    let alice = Keypair::from_uri("//Alice").unwrap();
    let paying = Arc::new(connect().await.with_coldkey(alice));
    scenario(&Backend { name: "subtensor", validator, buyer: paying.clone(), admin: paying, lagging_finality: false })
        .await;
}
