//! `orchestra call`: one signed synapse to any axon (Rust or Python), v10 or btauth/1; prints
//! the response JSON and exits non-zero with the status on failure.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use orchestra_keys::Keypair;
use orchestra_net::{AxonTarget, Dendrite, DendriteAuth, DendriteConfig, DynSynapse};
use orchestra_node::WalletArgs;
use orchestra_proto::wire::PyType;
use serde_json::Value;

#[derive(Args, Debug)]
pub struct CallArgs {
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long)]
    pub port: u16,
    /// The axon's hotkey (ss58): the signature binds the request to it.
    #[arg(long = "axon-hotkey")]
    pub axon_hotkey: String,
    /// Synapse class name (the route), e.g. EchoSynapse.
    #[arg(long)]
    pub synapse: String,
    /// The synapse's fields as a JSON object.
    #[arg(long, default_value = "{}")]
    pub body: String,
    /// Fields the synapse class declares without default (a Python axon needs a
    /// `bt_header_input_obj_<field>` header for each); comma separated, `field` or `field:type`
    /// with type str|int|float|bool|list|dict (default: the JSON type of the body value).
    /// Without it every field of --body is declared, which is what a Python axon expects.
    #[arg(long, value_delimiter = ',')]
    pub required: Vec<String>,
    /// Declare no fields unless --required names them (for axons that refuse extra headers).
    #[arg(long = "no-declare")]
    pub no_declare: bool,
    /// The synapse's `required_hash_fields`, in order, comma separated.
    #[arg(long = "hash-fields", value_delimiter = ',')]
    pub hash_fields: Vec<String>,
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Sign with a dev key instead of the wallet's hotkey (e.g. //Bob).
    #[arg(long)]
    pub uri: Option<String>,
    /// v10 (Bittensor axon headers) or btauth (bittensor 11 signed headers).
    #[arg(long, default_value = "v10")]
    pub auth: String,
    /// Seconds to wait.
    #[arg(long, default_value_t = 12.0)]
    pub timeout: f64,
}

fn py_type(name: &str, v: Option<&Value>) -> anyhow::Result<PyType> {
    Ok(match name {
        "str" => PyType::Str,
        "int" => PyType::Int,
        "float" => PyType::Float,
        "bool" => PyType::Bool,
        "list" => PyType::List,
        "dict" => PyType::Dict,
        "" => match v {
            Some(Value::Number(n)) if n.is_f64() => PyType::Float,
            Some(Value::Number(_)) => PyType::Int,
            Some(Value::Bool(_)) => PyType::Bool,
            Some(Value::Array(_)) => PyType::List,
            Some(Value::Object(_)) => PyType::Dict,
            _ => PyType::Str,
        },
        other => bail!("unknown field type `{other}` (str, int, float, bool, list, dict)"),
    })
}

pub fn run(a: CallArgs) -> anyhow::Result<ExitCode> {
    let fields: serde_json::Map<String, Value> = match serde_json::from_str(&a.body).context("--body is not JSON")? {
        Value::Object(m) => m,
        _ => bail!("--body must be a JSON object of the synapse's fields"),
    };
    let key = match &a.uri {
        Some(u) => Keypair::from_uri(u).context("--uri is not a valid key URI")?,
        None => a.wallet.wallet().hotkey()?,
    };
    let auth = match a.auth.as_str() {
        "v10" => DendriteAuth::V10,
        "btauth" => DendriteAuth::BtAuth,
        other => bail!("--auth {other}: expected v10 or btauth"),
    };
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        bail!("--timeout must be a positive number of seconds");
    }
    let mut required = Vec::new();
    for r in a.required.iter().filter(|r| !r.is_empty()) {
        let (name, ty) = r.split_once(':').unwrap_or((r.as_str(), ""));
        required.push((name.to_string(), py_type(ty, fields.get(name))?));
    }
    if required.is_empty() && !a.no_declare {
        // A Python axon builds the synapse class from the declared fields and answers 500 when
        // a field without default is not declared: declare every field of the body.
        for (name, v) in &fields {
            required.push((name.clone(), py_type("", Some(v))?));
        }
    }
    let syn = DynSynapse { name: a.synapse.clone(), required, hash_fields: a.hash_fields.clone() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let resp = rt.block_on(async {
        // The operator names the target on the command line: internal addresses are allowed.
        let d = Dendrite::new(key, DendriteConfig { auth, ..DendriteConfig::local() })?;
        let target = AxonTarget::new(a.host.clone(), a.port, a.axon_hotkey.clone());
        anyhow::Ok(d.call_dynamic(&target, &syn, fields, Duration::from_secs_f64(a.timeout)).await)
    })?;
    if resp.is_success() {
        println!("{}", serde_json::to_string_pretty(&resp.synapse)?);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("call failed: the axon answered status {}: {}", resp.status_code, resp.status_message);
        if resp.status_code == 500 {
            eprintln!(
                "hint: a Python axon answers 500 when the request lacks a field its synapse class \
                 requires; put every field in --body (they are declared by default) or name them with --required"
            );
        }
        println!("{}", serde_json::json!({"status_code": resp.status_code, "status_message": resp.status_message}));
        // Exit codes are 8 bits; map the HTTP-style status into a stable non-zero code.
        Ok(ExitCode::from(match resp.status_code {
            400..=499 => 4,
            500..=599 => 5,
            _ => 1,
        }))
    }
}
