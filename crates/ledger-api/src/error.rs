//! The crate's one error type, and how each kind of error becomes an HTTP response.
//!
//! Every error response is JSON `{"error": "<what is wrong and what to do>", "code": "<stable
//! machine code>"}` (plus `required_tier` on 401/403 tier errors), so a client can both show the
//! message and branch on the code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orchestra_ledger_store::{StoreError, Tier};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Errors of the Ledger API, its server, its webhook worker and its client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; nothing was changed. `code` names the problem for machines.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// No usable key: unknown, revoked, malformed, or none where one is required.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String, required: Option<Tier> },
    /// The key's tier is too low for what was asked.
    #[error("{what} needs the {} tier or higher; this key is {}", tier_name(*required), tier_name(*have))]
    Forbidden { what: String, required: Tier, have: Tier },
    #[error("{0}")]
    NotFound(String),
    /// Too many requests in the rate window (per IP for free, per key otherwise).
    #[error("rate limit exceeded: {limit} requests per {window}; retry in {retry_after_secs} s")]
    RateLimited { limit: u32, window: &'static str, retry_after_secs: u64 },
    /// The key's monthly quota is used up.
    #[error("monthly quota of {quota} requests used up; it resets in {retry_after_secs} s")]
    QuotaExceeded { quota: u64, retry_after_secs: u64 },
    /// A request refused for a reason of its own (key purchases: `payment_not_finalized`,
    /// `short_payment`, ...), with its status and, when waiting helps, a retry delay.
    #[error("{message}")]
    Refused { status: u16, code: &'static str, message: String, retry_after_secs: Option<u32> },
    /// A webhook target the SSRF guard refuses (private, loopback, link-local, ...).
    #[error("webhook target refused: {0}")]
    TargetRefused(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("the Ledger API must be created inside a tokio runtime")]
    NoRuntime,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("internal: {0}")]
    Internal(String),
    /// Client side: the server answered with an error.
    #[error("server answered {status}: {message} ({code})")]
    Remote { status: u16, code: String, message: String },
    /// Client side: the request could not be made or its answer not read.
    #[error("HTTP: {0}")]
    Transport(#[from] reqwest::Error),
    /// Client side: the guarded client refused or failed the request (size, time, policy).
    #[error("HTTP: {0}")]
    Guard(Box<orchestra_net::GuardError>),
    /// Client side: an answer that is not what the API documents.
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl From<orchestra_net::GuardError> for ApiError {
    fn from(e: orchestra_net::GuardError) -> Self {
        ApiError::Guard(Box::new(e))
    }
}

pub(crate) fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Free => "free",
        Tier::Developer => "developer",
        Tier::Production => "production",
        Tier::Enterprise => "enterprise",
    }
}

impl ApiError {
    pub(crate) fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    /// HTTP status and stable code for this error.
    pub fn status_and_code(&self) -> (StatusCode, &str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "tier_too_low"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::QuotaExceeded { .. } => (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded"),
            ApiError::TargetRefused(_) => (StatusCode::BAD_REQUEST, "webhook_target_refused"),
            ApiError::Refused { status, code, .. } => {
                (StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST), code)
            }
            ApiError::Store(StoreError::NotFound(_)) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Store(StoreError::Invalid(_)) => (StatusCode::BAD_REQUEST, "invalid"),
            ApiError::Remote { status, code, .. } => {
                (StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY), code.as_str())
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, and what would fix it.
    pub error: String,
    /// Stable machine-readable code: `bad_netuid`, `bad_since`, `bad_capability`, `bad_request`,
    /// `key_required`, `unknown_key`, `revoked_key`, `bad_authorization`, `tier_too_low`,
    /// `not_found`, `rate_limited`, `quota_exceeded`, `webhook_target_refused`, `internal`; key
    /// purchases add `payments_disabled`, `bad_quote`, `quote_not_found`, `quote_expired`,
    /// `quote_redeemed`, `payment_not_found`, `payment_not_finalized`, `payment_failed`,
    /// `payment_reused`, `wrong_payer`, `wrong_recipient`, `short_payment`,
    /// `reference_mismatch`, `chain_unavailable`; the admin endpoint `admin_auth_required`,
    /// `bad_admin_token`, `not_authorized`, `stale`, `replayed`, `expired_key` for API keys.
    pub code: String,
    /// The lowest tier that may make this request (401 `key_required` and 403 `tier_too_low`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "developer")]
    pub required_tier: Option<Tier>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let code = code.to_string();
        let required_tier = match &self {
            ApiError::Forbidden { required, .. } => Some(*required),
            ApiError::Unauthorized { required, .. } => *required,
            _ => None,
        };
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs, .. } | ApiError::QuotaExceeded { retry_after_secs, .. } => {
                Some(*retry_after_secs)
            }
            ApiError::Refused { retry_after_secs, .. } => retry_after_secs.map(u64::from),
            _ => None,
        };
        // Internal details go to the log, not to the caller.
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "ledger api request failed");
            "internal error; see the server log".to_string()
        } else {
            self.to_string()
        };
        let body = ErrorBody { error: message, code, required_tier };
        let bytes =
            serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"internal\",\"code\":\"internal\"}".to_vec());
        let mut resp =
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
