//! `orchestra call` against the Python SDK's axon (bittensor 10.5 reference peer) works with
//! just `--body`: every body field is declared, as the Python synapse class requires.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn python10() -> PathBuf {
    let p =
        std::env::var_os("BTREF_PYTHON").map(PathBuf::from).unwrap_or_else(|| "/tmp/btref/venv10/bin/python".into());
    assert!(p.exists(), "the Python reference peer is missing at {}: run scripts/setup.sh", p.display());
    p
}

#[test]
fn call_reaches_a_python_axon_without_field_flags() {
    let tmp = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let script = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/refpeer/py_axon_echo.py"));
    let mut axon = Command::new(python10())
        .arg(&script)
        .args(["--port", &port.to_string(), "--wallet-name", "miner", "--hotkey", "default", "--create"])
        .arg("--wallet-path")
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the Python axon");
    let mut line = String::new();
    std::io::BufReader::new(axon.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("ready JSON");
    let hotkey = ready["hotkey"].as_str().expect("hotkey").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_orchestra"))
        .args(["call", "--port", &port.to_string(), "--axon-hotkey", &hotkey, "--synapse", "EchoSynapse"])
        .args(["--body", r#"{"query": "hello from orchestra"}"#, "--uri", "//Bob"])
        .output()
        .expect("run orchestra call");
    let _ = axon.kill();
    let _ = axon.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("hello from orchestra"), "{stdout}");
}
