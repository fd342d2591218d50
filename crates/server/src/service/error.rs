//! The service's own errors: what went wrong in words a client can act on, with no HTTP in
//! sight (the HTTP layer maps each kind to a status code, `crate::error`).

/// Why a service operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The operator may not do this (role or scheme scope).
    #[error("{0}")]
    Forbidden(String),
    /// No such label, entry, tile or bucket.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be read (malformed JSON, wrong types), optionally naming the field.
    #[error("{message}")]
    Malformed {
        /// the field at fault
        field: Option<String>,
        /// what is wrong
        message: String,
    },
    /// A field's value is not acceptable.
    #[error("{message}")]
    Invalid {
        /// the field at fault
        field: String,
        /// what is wrong
        message: String,
    },
    /// The request conflicts with the log's current state (transition, serial, issuer).
    #[error("{0}")]
    Conflict(String),
    /// The log is shutting down: retry later (with the same idempotency key).
    #[error("{0}")]
    Unavailable(String),
    /// The log's disk is full: nothing was recorded; retry (with the same idempotency key)
    /// once the operator has freed space.
    #[error("{0}")]
    StorageFull(String),
    /// Something failed inside (storage, a corrupt record): the detail is for the logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// [`ServiceError::Forbidden`].
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }
    /// [`ServiceError::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
    /// [`ServiceError::Malformed`].
    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> Self {
        Self::Malformed {
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
    /// [`ServiceError::Invalid`].
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
    /// [`ServiceError::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }
    /// [`ServiceError::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }
    /// [`ServiceError::Internal`].
    pub fn internal(detail: impl core::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }
}
