//! Wallet files on disk: round trips (plaintext and encrypted), permissions, refusals and the
//! errors an operator sees (each must name the file).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;

use orchestra_keys::{KeyError, Keypair, Wallet};
use serde_json::{Value, json};

/// Argon2 at 512 MiB per call: run the tests that use it one at a time.
static ARGON2: Mutex<()> = Mutex::new(());

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("exists").permissions().mode() & 0o777
}

fn wallet(dir: &Path) -> Wallet {
    Wallet::new(dir.join("wallets"), "w", "h")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).expect("read")).expect("json")
}

/// Writes `doc` as the hotkey file with mode 0600.
fn put_hotkey(w: &Wallet, doc: &[u8]) {
    let path = w.hotkey_path();
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(&path, doc).expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn assert_names(err: &KeyError, path: &Path) {
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "error must name {}: {msg}", path.display());
}

#[test]
fn hotkey_roundtrip_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = wallet(dir.path());
    let (kp, phrase) = Keypair::generate();
    w.create_hotkey(&kp, Some(&phrase), false).expect("create");

    assert_eq!(w.hotkey_path(), dir.path().join("wallets/w/hotkeys/h"));
    assert_eq!(mode(&w.hotkey_path()), 0o600);
    assert_eq!(mode(&w.hotkeypub_path()), 0o600);
    let loaded = w.hotkey().expect("load");
    assert_eq!(loaded.ss58(), kp.ss58());
    assert_eq!(w.hotkeypub().expect("pub"), kp.public());

    let doc = read_json(&w.hotkey_path());
    let mut keys: Vec<&str> = doc.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["accountId", "privateKey", "publicKey", "secretPhrase", "secretSeed", "ss58Address"]);
    assert_eq!(doc["secretPhrase"], phrase.as_str());
    assert_eq!(doc["ss58Address"], kp.ss58());
    assert_eq!(doc["publicKey"], kp.public().to_hex());
    assert_eq!(doc["accountId"], kp.public().to_hex());
    assert_eq!(doc["privateKey"].as_str().expect("str").len(), 2 + 128);
    let pubdoc = read_json(&w.hotkeypub_path());
    assert_eq!(
        pubdoc,
        json!({"accountId": kp.public().to_hex(), "publicKey": kp.public().to_hex(), "ss58Address": kp.ss58()})
    );

    // Each secret field alone loads the same key (btwallet's fallbacks).
    for field in ["secretSeed", "privateKey"] {
        put_hotkey(&w, json!({ field: doc[field] }).to_string().as_bytes());
        assert_eq!(w.hotkey().expect(field).public(), kp.public(), "{field}");
    }
}

#[test]
fn load_precedence_phrase_over_seed_over_private_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = wallet(dir.path());
    let a = Keypair::from_uri("//Alice").expect("a");
    let (b, phrase_b) = Keypair::generate();
    let seed_of = |kp: &Keypair| {
        let d = tempfile::tempdir().expect("tempdir");
        let w = Wallet::new(d.path(), "x", "y");
        w.create_hotkey(kp, None, false).expect("create");
        read_json(&w.hotkey_path())
    };
    let a_doc = seed_of(&a);
    let b_doc = seed_of(&b);
    assert!(a_doc.get("secretSeed").is_some(), "hard-derived URI keys know their mini-secret");

    put_hotkey(&w, json!({"secretPhrase": phrase_b, "secretSeed": a_doc["secretSeed"]}).to_string().as_bytes());
    assert_eq!(w.hotkey().expect("phrase wins").public(), b.public());
    put_hotkey(
        &w,
        json!({"secretSeed": a_doc["secretSeed"], "privateKey": b_doc["privateKey"]}).to_string().as_bytes(),
    );
    assert_eq!(w.hotkey().expect("seed wins").public(), a.public());
    // null counts as absent, as in btwallet.
    put_hotkey(&w, json!({"secretPhrase": null, "privateKey": b_doc["privateKey"]}).to_string().as_bytes());
    assert_eq!(w.hotkey().expect("null skipped").public(), b.public());
    // cryptoType 1 (sr25519), as btwallet 4.1 writes it, number or string.
    put_hotkey(&w, json!({"cryptoType": 1, "privateKey": b_doc["privateKey"]}).to_string().as_bytes());
    assert_eq!(w.hotkey().expect("cryptoType 1").public(), b.public());
    put_hotkey(&w, json!({"cryptoType": "1", "privateKey": b_doc["privateKey"]}).to_string().as_bytes());
    assert_eq!(w.hotkey().expect("cryptoType \"1\"").public(), b.public());
}

#[test]
fn uri_and_private_key_only_keys_roundtrip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = Keypair::from_uri("//Alice").expect("alice");
    let w = Wallet::new(dir.path(), "w", "alice");
    w.create_hotkey(&alice, None, false).expect("create");
    assert_eq!(w.hotkey().expect("load").ss58(), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    let doc = read_json(&w.hotkey_path());
    assert!(doc.get("secretPhrase").is_none());

    // A key known only by its 64-byte secret has no seed to write.
    let pk_hex = doc["privateKey"].as_str().expect("str");
    let only_private = Keypair::from_private_key(&hex::decode(&pk_hex[2..]).expect("hex")).expect("64 bytes");
    let w2 = Wallet::new(dir.path(), "w", "p");
    w2.create_hotkey(&only_private, None, false).expect("create");
    let doc2 = read_json(&w2.hotkey_path());
    assert!(doc2.get("secretSeed").is_none());
    assert_eq!(doc2["privateKey"], doc["privateKey"]);
    assert_eq!(w2.hotkey().expect("load").public(), alice.public());
}

#[test]
fn create_refuses_overwrite_and_mismatched_mnemonic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = wallet(dir.path());
    let (kp, phrase) = Keypair::generate();
    w.create_hotkey(&kp, Some(&phrase), false).expect("create");
    let (kp2, phrase2) = Keypair::generate();
    let err = w.create_hotkey(&kp2, Some(&phrase2), false).expect_err("exists");
    assert!(matches!(err, KeyError::AlreadyExists { .. }), "{err}");
    assert_names(&err, &w.hotkey_path());
    assert_eq!(w.hotkey().expect("unchanged").public(), kp.public());
    w.create_hotkey(&kp2, Some(&phrase2), true).expect("overwrite");
    assert_eq!(w.hotkey().expect("replaced").public(), kp2.public());
    assert_eq!(w.hotkeypub().expect("replaced pub").to_ss58(), kp2.ss58());

    // A watch-only wallet (coldkeypub.txt alone) is not silently given another key.
    let w3 = Wallet::new(dir.path().join("watch"), "w", "h");
    fs::create_dir_all(w3.coldkeypub_path().parent().expect("parent")).expect("mkdir");
    fs::write(w3.coldkeypub_path(), b"{}").expect("write");
    let err = w3.create_coldkey(&kp, None, None, false).expect_err("pub exists");
    assert_names(&err, &w3.coldkeypub_path());

    let err = w.create_hotkey(&kp, Some(&phrase2), true).expect_err("mismatch");
    assert!(matches!(err, KeyError::MnemonicMismatch { .. }), "{err}");
    assert_names(&err, &w.hotkey_path());
}

#[test]
fn files_others_can_access_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = wallet(dir.path());
    let (kp, _) = Keypair::generate();
    w.create_hotkey(&kp, None, false).expect("create");
    for bad in [0o644, 0o604, 0o601, 0o666] {
        fs::set_permissions(w.hotkey_path(), fs::Permissions::from_mode(bad)).expect("chmod");
        let err = w.hotkey().expect_err("world-accessible");
        assert!(matches!(err, KeyError::Permissions { .. }), "{err}");
        assert_names(&err, &w.hotkey_path());
        assert!(err.to_string().contains(&format!("chmod 600 {}", w.hotkey_path().display())), "{err}");
    }
    // Group access alone is allowed (the check is on "others").
    fs::set_permissions(w.hotkey_path(), fs::Permissions::from_mode(0o640)).expect("chmod");
    assert_eq!(w.hotkey().expect("group-readable ok").public(), kp.public());
    // Public files are not secret.
    fs::set_permissions(w.hotkeypub_path(), fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_eq!(w.hotkeypub().expect("pub").to_ss58(), kp.ss58());
}

#[test]
fn bad_files_give_errors_naming_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = wallet(dir.path());
    let path = w.hotkey_path();

    let err = w.hotkey().expect_err("missing");
    assert!(matches!(err, KeyError::NotFound { .. }), "{err}");
    assert_names(&err, &path);
    let err = w.coldkeypub().expect_err("missing");
    assert_names(&err, &w.coldkeypub_path());

    let cases: &[(&[u8], &str)] = &[
        (b"{\"secretPhrase\": \"abandon", "corrupt"),
        (b"[1, 2]", "corrupt"),
        (b"\xff\xfe\x00garbage", "corrupt"),
        (b"", "corrupt"),
        (b"{\"secretPhrase\": 12}", "corrupt"),
        (b"{\"secretPhrase\": \"not a real mnemonic at all\"}", "corrupt"),
        (b"{\"secretSeed\": \"0x1234\"}", "corrupt"),
        (b"{\"privateKey\": \"0xnothex\"}", "corrupt"),
        (b"{\"ss58Address\": \"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY\"}", "no secret"),
        (b"{\"cryptoType\": 0, \"privateKey\": \"0xabf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115\"}", "ed25519"),
        (b"$ANSIBLE_VAULT;1.1;AES256\n6134", "Ansible Vault"),
        (b"gAAAAABhZ2V0dGluZyBvbGQ=", "legacy Fernet"),
        (b"$NACL0123456789012345678901234567890123456789", "password is needed"),
    ];
    for (content, expect) in cases {
        put_hotkey(&w, content);
        let err = w.hotkey().expect_err("bad file");
        assert_names(&err, &path);
        assert!(err.to_string().contains(expect), "{:?}: {err}", String::from_utf8_lossy(content));
    }

    // A secret that disagrees with the address in the same file is refused.
    let (kp, _) = Keypair::generate();
    w.create_hotkey(&kp, None, true).expect("create");
    let mut doc = read_json(&path);
    doc["ss58Address"] = json!("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    doc["publicKey"] = json!(null);
    doc["accountId"] = json!(null);
    put_hotkey(&w, doc.to_string().as_bytes());
    let err = w.hotkey().expect_err("mismatch");
    assert!(matches!(err, KeyError::Corrupt { .. }), "{err}");
    assert_names(&err, &path);

    // A pub file with nothing usable.
    fs::write(w.hotkeypub_path(), b"{\"foo\": \"bar\"}").expect("write");
    let err = w.hotkeypub().expect_err("no public key");
    assert!(matches!(err, KeyError::NoPublicKey { .. }), "{err}");
    assert_names(&err, &w.hotkeypub_path());
}

#[test]
fn coldkey_encrypted_roundtrip() {
    let _guard = ARGON2.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let w = wallet(dir.path());
    let (kp, phrase) = Keypair::generate();
    let password = "correct horse battery staple";
    w.create_coldkey(&kp, Some(&phrase), Some(password), false).expect("create encrypted");

    let raw = fs::read(w.coldkey_path()).expect("read");
    assert!(raw.starts_with(b"$NACL"));
    assert!(!raw.windows(phrase.len()).any(|win| win == phrase.as_bytes()), "the phrase is not in clear");
    assert_eq!(mode(&w.coldkey_path()), 0o600);
    assert_eq!(mode(&w.coldkeypub_path()), 0o600);
    assert_eq!(w.coldkeypub().expect("pub"), kp.public());

    assert_eq!(w.coldkey(password).expect("decrypt").ss58(), kp.ss58());
    let err = w.coldkey("not the password").expect_err("wrong password");
    assert!(matches!(err, KeyError::WrongPassword { .. }), "{err}");
    assert_names(&err, &w.coldkey_path());

    // An encrypted file where a plaintext hotkey is expected asks for the password (no argon2 run).
    put_hotkey(&w, &raw);
    let err = w.hotkey().expect_err("encrypted hotkey");
    assert!(matches!(err, KeyError::PasswordRequired { .. }), "{err}");
    assert_names(&err, &w.hotkey_path());

    // Truncated ciphertext is reported as corrupt before any key derivation.
    fs::write(w.coldkey_path(), &raw[..30]).expect("write");
    let err = w.coldkey(password).expect_err("truncated");
    assert!(matches!(err, KeyError::Corrupt { .. }), "{err}");
}

#[test]
fn coldkey_plaintext_roundtrip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = wallet(dir.path());
    let (kp, phrase) = Keypair::generate();
    w.create_coldkey(&kp, Some(&phrase), None, false).expect("create");
    assert_eq!(mode(&w.coldkey_path()), 0o600);
    // A plaintext coldkey loads whatever password is given.
    assert_eq!(w.coldkey("ignored").expect("load").public(), kp.public());
    assert_eq!(w.coldkeypub().expect("pub"), kp.public());
    assert_eq!(read_json(&w.coldkey_path())["secretPhrase"], phrase.as_str());
}

#[test]
fn paths_and_args() {
    let w = Wallet::new("/x/wallets", "cold", "hot");
    assert_eq!(w.coldkey_path(), Path::new("/x/wallets/cold/coldkey"));
    assert_eq!(w.coldkeypub_path(), Path::new("/x/wallets/cold/coldkeypub.txt"));
    assert_eq!(w.hotkey_path(), Path::new("/x/wallets/cold/hotkeys/hot"));
    assert_eq!(w.hotkeypub_path(), Path::new("/x/wallets/cold/hotkeys/hotpub.txt"));
    assert_eq!((w.name(), w.hotkey_name()), ("cold", "hot"));

    if let Some(home) = std::env::var_os("HOME") {
        let w = Wallet::new("~/.bittensor/wallets", "a", "b");
        assert_eq!(w.path(), Path::new(&home).join(".bittensor/wallets"));
    }
    assert_eq!(Wallet::new("~user/x", "a", "b").path(), Path::new("~user/x"), "only a bare ~ is expanded");
}
