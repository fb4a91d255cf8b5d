//! Every answer of the API: `{"success", "data", "error": {"kind", "message"} |
//! null, "timestamp"}` (seconds since the epoch). Errors carry a kind a program
//! can act on; a 5xx says nothing internal.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ccsm_core::{ErrorKind, HasKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

use crate::error::Error;

fn timestamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A successful answer.
#[derive(Debug)]
pub struct Data<T>(pub T);

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        axum::Json(json!({
            "success": true,
            "data": self.0,
            "error": null,
            "timestamp": timestamp(),
        }))
        .into_response()
    }
}

/// A successful answer with keys beside `data` (the seed's clients read
/// `result['session']` and `result['summary']`): an object's fields are added
/// to the envelope; `success`, `data`, `error` and `timestamp` are never
/// overwritten.
#[derive(Debug)]
pub struct DataAnd<T, E>(pub T, pub E);

impl<T: Serialize, E: Serialize> IntoResponse for DataAnd<T, E> {
    fn into_response(self) -> Response {
        let mut v = json!({
            "success": true,
            "data": self.0,
            "error": null,
            "timestamp": timestamp(),
        });
        if let (Some(out), Ok(serde_json::Value::Object(extra))) =
            (v.as_object_mut(), serde_json::to_value(self.1))
        {
            for (k, x) in extra {
                out.entry(k).or_insert(x);
            }
        }
        axum::Json(v).into_response()
    }
}

/// A failed answer: a status, a kind and a message for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalidInput", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "notFound", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let kind = e.kind();
        let status = match kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if status.is_server_error() && kind == ErrorKind::Internal {
            tracing::error!("internal error: {e}");
            "internal error (see the daemon's log)".to_owned()
        } else {
            e.to_string()
        };
        Self {
            status,
            kind: kind.as_str(),
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({
                "success": false,
                "data": null,
                "error": {"kind": self.kind, "message": self.message},
                "timestamp": timestamp(),
            })),
        )
            .into_response()
    }
}

/// A JSON body whose every rejection (not JSON, wrong types, unknown fields, too
/// large, wrong content type) is an envelope.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

fn rejected(r: JsonRejection) -> ApiError {
    let status = r.status();
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payloadTooLarge",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupportedMediaType",
        _ => "invalidInput",
    };
    let status = if status.is_server_error() {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    ApiError::new(status, kind, r.body_text())
}

pub type ApiResult<T> = Result<Data<T>, ApiError>;

/// Query parameters whose rejection is an envelope.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(r) => Err(ApiError::invalid(r.body_text())),
        }
    }
}

/// The envelope as the OpenAPI document describes it (what [`Data`] writes).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    /// Always true here.
    pub success: bool,
    pub data: T,
    /// Always null here.
    #[schema(value_type = Option<ErrorBody>)]
    pub error: Option<ErrorBody>,
    /// Seconds since the epoch.
    pub timestamp: u64,
}

/// A start or a change of one session: `session` beside `data` for the seed's
/// clients (`result['session']['id']`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionEnvelope<T> {
    pub success: bool,
    pub data: T,
    #[schema(value_type = Option<ErrorBody>)]
    pub error: Option<ErrorBody>,
    pub timestamp: u64,
    pub session: SessionRef,
}

/// Which session an answer is about.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionRef {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<ccsm_core::LiveStatus>,
    #[serde(rename = "workingDirectory")]
    pub working_directory: Option<String>,
    #[serde(rename = "projectPath")]
    pub project_path: Option<String>,
}

/// Metrics: `summary` beside `data` for the seed's clients (`result['summary']`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SummaryEnvelope<T> {
    pub success: bool,
    pub data: T,
    #[schema(value_type = Option<ErrorBody>)]
    pub error: Option<ErrorBody>,
    pub timestamp: u64,
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

/// What went wrong: a kind a program can act on and a message for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// `invalidInput`, `notFound`, `conflict`, `unavailable`, `internal`,
    /// `unauthorized`, `forbidden`, `payloadTooLarge`, `unsupportedMediaType`,
    /// `methodNotAllowed`, `tooManyRequests`.
    pub kind: String,
    pub message: String,
}

/// Every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// Always false.
    pub success: bool,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    pub error: ErrorBody,
    pub timestamp: u64,
}

/// The refusals every route may answer with, documented once: a 4xx (a bad
/// request, no such session, a conflict, the guard) or a 5xx (nothing internal
/// is said), both as the error envelope.
#[derive(Debug, utoipa::IntoResponses)]
pub enum Refusals {
    #[response(
        status = "4XX",
        description = "a bad request, no such session, a conflict"
    )]
    Client(ErrorEnvelope),
    #[response(
        status = "5XX",
        description = "a failure of the daemon (nothing internal is said)"
    )]
    Server(ErrorEnvelope),
}
