//! The object store to publish to: an S3-compatible bucket named by `s3://<bucket>[/<prefix>]`,
//! with an optional endpoint (`http://127.0.0.1:9000` for moto, s3s-fs or MinIO; absent = AWS).
//! Credentials and region come from the usual `AWS_*` environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, …).

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;

/// A bad publish target.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The URL is not `s3://<bucket>[/<prefix>]`.
    #[error("publish URL must be s3://<bucket>[/<prefix>], not {0:?}")]
    Url(String),
    /// object_store refused the configuration.
    #[error("object store configuration: {0}")]
    Config(#[from] object_store::Error),
}

/// Installs ring as the process's TLS crypto provider, if none is installed yet. reqwest is
/// built without a default provider (ring, already in the tree through ureq, instead of
/// building aws-lc from C), so a `reqwest::Client` may only be built after this; [`s3_store`]
/// calls it.
pub fn install_crypto_provider() {
    // Err = a provider is already installed: fine
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An S3 client for `url` (`s3://<bucket>[/<prefix>]`) at `endpoint` (plain `http://` allowed,
/// for local servers), with `keys` (access key id, secret) or else the `AWS_*` environment;
/// returns the store and the key prefix inside the bucket.
///
/// # Errors
/// [`TargetError`].
pub fn s3_store(
    url: &str,
    endpoint: Option<&str>,
    keys: Option<(&str, &str)>,
) -> Result<(Arc<dyn ObjectStore>, String), TargetError> {
    install_crypto_provider();
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| TargetError::Url(url.to_owned()))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(TargetError::Url(url.to_owned()));
    }
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some((id, secret)) = keys {
        b = b.with_access_key_id(id).with_secret_access_key(secret);
    }
    if let Some(e) = endpoint {
        b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            b = b.with_region("us-east-1");
        }
    }
    Ok((Arc::new(b.build()?), prefix.trim_matches('/').to_owned()))
}
