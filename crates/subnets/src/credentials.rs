//! The operator's subnet credentials: the only place a secret for a subnet call comes from.
//!
//! A Ledger entry's `auth` only says that a subnet wants a credential. Which secret, in which
//! header, and to which host it may be sent is decided here, by the operator, per netuid. An
//! entry (which miners and other validators can influence) can therefore never make a node read
//! an environment variable of its choosing or send a secret to an address of its choosing.
//!
//! File format (`--subnet.credentials FILE`, TOML), one table per netuid:
//!
//! ```toml
//! [22]
//! kind = "header"            # or "bearer" (Authorization: Bearer <secret>)
//! name = "Authorization"     # the header, for kind = "header"
//! env = "DESEARCH_API_KEY"   # where the secret is: an environment variable...
//! # value = "..."            # ...or the secret itself (keep the file mode 0600)
//! host = "api.desearch.ai"   # optional: the secret is only ever sent to this host
//! ```
//!
//! Environment variables are read once, when the file is loaded.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::SubnetError;

/// How a credential is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialKind {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `<name>: <secret>`.
    Header { name: String },
}

/// One subnet's credential.
#[derive(Clone)]
pub struct Credential {
    pub kind: CredentialKind,
    secret: String,
    /// When set, the secret is only sent to this host.
    pub host: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("kind", &self.kind).field("host", &self.host).finish_non_exhaustive()
    }
}

impl Credential {
    pub fn new(kind: CredentialKind, secret: impl Into<String>, host: Option<String>) -> Self {
        Credential { kind, secret: secret.into(), host }
    }

    /// Whether the secret may be sent to `host`.
    pub fn allows_host(&self, host: &str) -> bool {
        self.host.as_deref().is_none_or(|h| h.eq_ignore_ascii_case(host))
    }

    pub(crate) fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.kind {
            CredentialKind::Bearer => req.bearer_auth(&self.secret),
            CredentialKind::Header { name } => req.header(name.as_str(), &self.secret),
        }
    }
}

/// The operator's credentials, by netuid.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    by_netuid: BTreeMap<u16, Credential>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    host: Option<String>,
}

impl Credentials {
    pub fn insert(&mut self, netuid: u16, c: Credential) {
        self.by_netuid.insert(netuid, c);
    }

    pub fn get(&self, netuid: u16) -> Option<&Credential> {
        self.by_netuid.get(&netuid)
    }

    pub fn is_empty(&self) -> bool {
        self.by_netuid.is_empty()
    }

    /// Load the operator's TOML file (see the module docs).
    pub fn load(path: &std::path::Path) -> Result<Self, SubnetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SubnetError::Other(format!("credentials file {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| SubnetError::Other(format!("credentials file {}: {e}", path.display())))
    }

    /// Parse the TOML text; `env` secrets are read from the environment now.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let table: BTreeMap<String, Spec> = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut out = Credentials::default();
        for (key, spec) in table {
            let netuid: u16 = key.parse().map_err(|_| format!("`{key}` is not a netuid"))?;
            let kind = match (spec.kind.as_str(), spec.name) {
                ("bearer", None) => CredentialKind::Bearer,
                ("header", Some(name)) if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok() => {
                    CredentialKind::Header { name }
                }
                ("header", _) => return Err(format!("[{key}]: kind = \"header\" needs a valid `name`")),
                ("bearer", Some(_)) => return Err(format!("[{key}]: kind = \"bearer\" takes no `name`")),
                (other, _) => return Err(format!("[{key}]: kind `{other}` is not bearer or header")),
            };
            let secret = match (spec.env, spec.value) {
                (Some(env), None) => {
                    std::env::var(&env).map_err(|_| format!("[{key}]: environment variable {env} is not set"))?
                }
                (None, Some(v)) => v,
                _ => return Err(format!("[{key}]: give exactly one of `env` and `value`")),
            };
            if reqwest::header::HeaderValue::from_str(&secret).is_err() {
                return Err(format!("[{key}]: the secret cannot be sent in a header"));
            }
            out.insert(netuid, Credential { kind, secret, host: spec.host });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example file in scripts/deploy parses (with values in place of the env vars).
    #[test]
    fn the_deploy_example_parses() {
        let text = include_str!("../../../scripts/deploy/subnet-credentials.toml").replace("env = ", "value = ");
        let c = Credentials::from_toml(&text).expect("example");
        for netuid in [22, 13, 64] {
            assert!(c.get(netuid).is_some_and(|k| k.host.is_some()), "{netuid}");
        }
    }

    #[test]
    fn parse_and_redact() {
        let c = Credentials::from_toml(
            "[22]\nkind = \"header\"\nname = \"X-Api-Key\"\nvalue = \"s3cret\"\nhost = \"api.example.com\"\n\
             [64]\nkind = \"bearer\"\nvalue = \"t0k\"\n",
        )
        .expect("parse");
        let k = c.get(22).expect("22");
        assert!(k.allows_host("API.example.com") && !k.allows_host("127.0.0.1"));
        assert!(c.get(64).expect("64").allows_host("anything"));
        assert!(!format!("{c:?}").contains("s3cret"), "secrets never reach Debug output");
        assert!(Credentials::from_toml("[x]\nkind = \"bearer\"\nvalue = \"a\"\n").is_err());
        assert!(Credentials::from_toml("[1]\nkind = \"header\"\nvalue = \"a\"\n").is_err());
        assert!(Credentials::from_toml("[1]\nkind = \"bearer\"\nenv = \"ORCHESTRA_SURELY_UNSET_VAR\"\n").is_err());
        assert!(Credentials::from_toml("[1]\nkind = \"bearer\"\nvalue = \"a\"\nurl = \"x\"\n").is_err());
    }
}
