//! Batch verification agrees with one-by-one verification.

use orchestra_keys::{BatchItem, Keypair, VerifyingKey, verify_batch};

#[test]
fn batch_accepts_good_and_refuses_any_bad_signature() {
    let keys: Vec<Keypair> =
        ["//Alice", "//Bob", "//Charlie"].iter().map(|u| Keypair::from_uri(u).expect("key")).collect();
    let vks: Vec<VerifyingKey> = keys.iter().map(|k| VerifyingKey::new(&k.public()).expect("vk")).collect();
    let msgs: Vec<Vec<u8>> = (0..20).map(|i| format!("message {i}").into_bytes()).collect();
    let sigs: Vec<[u8; 64]> = msgs.iter().enumerate().map(|(i, m)| keys[i % 3].sign(m)).collect();
    let items: Vec<BatchItem<'_>> =
        (0..20).map(|i| BatchItem { key: &vks[i % 3], msg: &msgs[i], sig: &sigs[i] }).collect();
    assert!(verify_batch(&items));
    assert!(verify_batch(&items[..1]));
    assert!(verify_batch(&[]));

    // One wrong signer, one tampered message, one garbage signature: each fails the batch.
    let mut wrong = items.clone();
    wrong[7].key = &vks[(7 + 1) % 3];
    assert!(!verify_batch(&wrong));
    let other = b"message 99".to_vec();
    let mut tampered = items.clone();
    tampered[3].msg = other.as_slice();
    assert!(!verify_batch(&tampered));
    let junk = [0xffu8; 64];
    let mut garbage = items.clone();
    garbage[19].sig = &junk;
    assert!(!verify_batch(&garbage));
    assert!(!verify_batch(&garbage[19..]));
}
