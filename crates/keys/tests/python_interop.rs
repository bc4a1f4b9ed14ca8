//! Interop with the real Python SDK (bittensor_wallet 4.1.1 from bittensor 10.5.0), both ways:
//! wallets Python writes load here, wallets written here load in Python, and signatures made on
//! either side verify on the other.
//!
//! The interpreter is `$BTREF_PYTHON` (default `${TMPDIR:-/tmp}/btref/venv10/bin/python`), made by
//! `shared/refpeer/setup.sh`. Without it these tests fail on purpose: CI installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use orchestra_keys::{Keypair, PublicKey, Wallet, keyfile, parse_signature_hex};
use serde_json::Value;

const PASSWORD: &str = "interop-Passw0rd!";

fn python() -> PathBuf {
    let path = std::env::var_os("BTREF_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        let tmp = std::env::var_os("TMPDIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
        tmp.join("btref/venv10/bin/python")
    });
    assert!(
        path.exists(),
        "Python reference interpreter {} not found: run shared/refpeer/setup.sh (/work/shared/refpeer/setup.sh, \
         or scripts/setup.sh) or set BTREF_PYTHON to a venv with bittensor 10.5.0 / bittensor-wallet 4.1.1",
        path.display()
    );
    path
}

/// Runs `script` with `args`; the script prints one line `RESULT <json>` (btwallet prints
/// "Encrypting..." and the like on stdout too).
fn run_python(script: &str, args: &[&str]) -> Value {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("python starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    serde_json::from_str(line).expect("RESULT is JSON")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

const PY_CREATE: &str = r#"
import json, sys
from bittensor_wallet import Wallet
path, name, hotkey, password, message = sys.argv[1:6]
w = Wallet(name=name, hotkey=hotkey, path=path)
w.create_new_coldkey(n_words=12, use_password=True, overwrite=True, suppress=True, save_coldkey_to_env=False, coldkey_password=password)
w.create_new_hotkey(n_words=12, use_password=False, overwrite=True, suppress=True)
hot = w.hotkey
print("RESULT " + json.dumps({
    "hot": hot.ss58_address,
    "cold": w.coldkeypub.ss58_address,
    "hot_sig": "0x" + hot.sign(message).hex(),
}))
"#;

#[test]
fn python_wallet_loads_in_rust() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("wallets");
    let message = "1795316511645856156.from.python.uuid.hash";
    let py = run_python(PY_CREATE, &[root.to_str().expect("utf8"), "pyw", "pyh", PASSWORD, message]);
    let w = Wallet::new(&root, "pyw", "pyh");

    let hot = w.hotkey().expect("python hotkey loads");
    assert_eq!(hot.ss58(), s(&py, "hot"));
    assert_eq!(w.hotkeypub().expect("python hotkeypub").to_ss58(), s(&py, "hot"));
    assert_eq!(w.coldkeypub().expect("python coldkeypub").to_ss58(), s(&py, "cold"));
    assert_eq!(w.coldkey(PASSWORD).expect("python coldkey decrypts").ss58(), s(&py, "cold"));

    // Python's signature verifies here.
    let sig = parse_signature_hex(s(&py, "hot_sig")).expect("sig hex");
    assert!(hot.public().verify(message.as_bytes(), &sig));
    assert!(!hot.public().verify(b"another message", &sig));

    // Every field we would write for this key equals what Python wrote (secretSeed is the
    // substrate-bip39 mini-secret, privateKey the 64-byte schnorrkel secret).
    let theirs: Value = serde_json::from_slice(&std::fs::read(w.hotkey_path()).expect("read")).expect("json");
    let phrase = s(&theirs, "secretPhrase");
    let kp = Keypair::from_phrase(phrase).expect("phrase");
    let mine: Value =
        serde_json::from_slice(&keyfile::keypair_to_json(&kp, Some(phrase), None, Path::new("x")).expect("json"))
            .expect("json");
    for field in ["accountId", "publicKey", "privateKey", "secretPhrase", "ss58Address"] {
        assert_eq!(mine[field], theirs[field], "{field}");
    }
    // keypair_to_json takes the seed from the caller; the wallet passes the phrase's seed.
    let w2 = Wallet::new(dir.path().join("mine"), "w", "h");
    w2.create_hotkey(&kp, Some(phrase), false).expect("create");
    let written: Value = serde_json::from_slice(&std::fs::read(w2.hotkey_path()).expect("read")).expect("json");
    for field in ["accountId", "publicKey", "privateKey", "secretPhrase", "secretSeed", "ss58Address"] {
        assert_eq!(written[field], theirs[field], "{field}");
    }
}

const PY_LOAD: &str = r#"
import json, sys
from bittensor_wallet import Wallet, Keyfile, Keypair
path, name, hotkey, password, message, rust_sig, alice_file = sys.argv[1:8]
w = Wallet(name=name, hotkey=hotkey, path=path)
hot = w.hotkey
cold = w.get_coldkey(password=password)
py_msg = "signed.by.python.coldkey"
print("RESULT " + json.dumps({
    "hot": hot.ss58_address,
    "hotpub": w.hotkeypub.ss58_address,
    "coldpub": w.coldkeypub.ss58_address,
    "cold": cold.ss58_address,
    "rust_sig_ok": hot.verify(message, rust_sig),
    "rust_sig_wrong_msg": hot.verify(message + "x", rust_sig),
    "py_msg": py_msg,
    "py_sig": "0x" + cold.sign(py_msg).hex(),
    "alice": Keyfile(alice_file).get_keypair().ss58_address,
}))
"#;

#[test]
fn rust_wallet_loads_in_python() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("wallets");
    let w = Wallet::new(&root, "rsw", "rsh");
    let (hot, hot_phrase) = Keypair::generate();
    let (cold, cold_phrase) = Keypair::generate();
    w.create_hotkey(&hot, Some(&hot_phrase), false).expect("hotkey");
    w.create_coldkey(&cold, Some(&cold_phrase), Some(PASSWORD), false).expect("coldkey");
    // A URI key: no phrase, so Python loads it from secretSeed.
    let alice = Wallet::new(&root, "rsw", "alice");
    alice.create_hotkey(&Keypair::from_uri("//Alice").expect("alice"), None, false).expect("alice");

    let message = "1795316511645856156.signed.by.rust.uuid.hash";
    let sig = hot.sign_hex(message.as_bytes());
    let py = run_python(
        PY_LOAD,
        &[
            root.to_str().expect("utf8"),
            "rsw",
            "rsh",
            PASSWORD,
            message,
            &sig,
            alice.hotkey_path().to_str().expect("utf8"),
        ],
    );
    assert_eq!(s(&py, "hot"), hot.ss58());
    assert_eq!(s(&py, "hotpub"), hot.ss58());
    assert_eq!(s(&py, "coldpub"), cold.ss58());
    assert_eq!(s(&py, "cold"), cold.ss58(), "Python decrypts our NaCl coldkey");
    assert_eq!(py["rust_sig_ok"], true, "Python verifies our signature");
    assert_eq!(py["rust_sig_wrong_msg"], false);
    assert_eq!(s(&py, "alice"), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");

    let py_sig = parse_signature_hex(s(&py, "py_sig")).expect("sig hex");
    assert!(cold.public().verify(s(&py, "py_msg").as_bytes(), &py_sig), "we verify Python's signature");
}

const PY_URIS: &str = r#"
import json, sys
from bittensor_wallet import Keypair
print("RESULT " + json.dumps([Keypair.create_from_uri(u).ss58_address for u in sys.argv[1:]]))
"#;

#[test]
fn uri_derivation_matches_python() {
    let dev = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
    let (_, phrase) = Keypair::generate();
    let uris = [
        "//Alice".to_string(),
        "//Bob//stash".to_string(),
        "//Alice/soft".to_string(),
        "//Alice//0/1".to_string(),
        format!("{dev}//hard/soft"),
        phrase.clone(),
        format!("{phrase}//orchestra/7"),
        format!("{phrase}///password"),
        "0xfac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e//x".to_string(),
    ];
    let args: Vec<&str> = uris.iter().map(String::as_str).collect();
    let py = run_python(PY_URIS, &args);
    let theirs: Vec<&str> = py.as_array().expect("list").iter().map(|v| v.as_str().expect("str")).collect();
    for (uri, their) in uris.iter().zip(theirs) {
        let mine = Keypair::from_uri(uri).expect("uri");
        assert_eq!(mine.ss58(), their, "{uri}");
        assert_eq!(PublicKey::from_ss58(their).expect("ss58"), mine.public());
    }
}
