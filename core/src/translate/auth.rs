//! Authentication on ALB rules: `auth-type`, `auth-idp-cognito`, `auth-idp-oidc`,
//! `auth-scope`, `auth-session-cookie`, `auth-session-timeout` and
//! `auth-on-unauthenticated-request`, as the AWS Load Balancer Controller reads them.
//!
//! As in LBC (`pkg/ingress/auth_config_builder.go`, `model_build_actions.go`):
//! - the annotations are read per backend from the Ingress, and, when the backend forwards to
//!   exactly one Service, from that Service too (the Service's value wins, key by key);
//! - the authentication action goes before the backend's action, on HTTPS listeners only
//!   (on HTTP listeners the rule has no authentication, as in LBC);
//! - an OIDC client id and secret come from the Secret `secretName` in the Ingress's
//!   namespace, keys `clientID` (or the legacy `clientId`) and `clientSecret`.
//!
//! The client secret is carried as a [`ClientSecret`], which never prints its value.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::annotations::{json_reason, Annotations};
use super::error::{invalid_annotation, BuildError, ObjectRef};
use crate::model::{
    ActionSpec, AuthenticateCognitoSpec, AuthenticateCommon, AuthenticateOidcSpec, ClientSecret,
};

/// `none`, `cognito` or `oidc`.
pub const AUTH_TYPE: &str = "alb.ingress.kubernetes.io/auth-type";
/// Cognito user pool (JSON).
pub const AUTH_IDP_COGNITO: &str = "alb.ingress.kubernetes.io/auth-idp-cognito";
/// OIDC identity provider (JSON, with the Secret's name).
pub const AUTH_IDP_OIDC: &str = "alb.ingress.kubernetes.io/auth-idp-oidc";
/// Claims requested.
pub const AUTH_SCOPE: &str = "alb.ingress.kubernetes.io/auth-scope";
/// Session cookie name.
pub const AUTH_SESSION_COOKIE: &str = "alb.ingress.kubernetes.io/auth-session-cookie";
/// Session lifetime in seconds.
pub const AUTH_SESSION_TIMEOUT: &str = "alb.ingress.kubernetes.io/auth-session-timeout";
/// `authenticate`, `allow` or `deny`.
pub const AUTH_ON_UNAUTHENTICATED_REQUEST: &str =
    "alb.ingress.kubernetes.io/auth-on-unauthenticated-request";

/// LBC's defaults.
pub mod defaults {
    /// `auth-scope`.
    pub const SCOPE: &str = "openid";
    /// `auth-session-cookie`.
    pub const SESSION_COOKIE: &str = "AWSELBAuthSessionCookie";
    /// `auth-session-timeout` (7 days, also the ELBv2 maximum).
    pub const SESSION_TIMEOUT: i64 = 604_800;
    /// `auth-on-unauthenticated-request`.
    pub const ON_UNAUTHENTICATED_REQUEST: &str = "authenticate";
}

/// Secret key of the OIDC client id (LBC's).
pub const SECRET_CLIENT_ID: &str = "clientID";
/// Legacy spelling of [`SECRET_CLIENT_ID`] (the AWS ALB Ingress Controller's), also read.
pub const SECRET_CLIENT_ID_LEGACY: &str = "clientId";
/// Secret key of the OIDC client secret.
pub const SECRET_CLIENT_SECRET: &str = "clientSecret";

/// Most `authenticationRequestExtraParams` ELBv2 accepts.
const MAX_EXTRA_PARAMS: usize = 10;

const COGNITO_EXPECTED: &str = "a JSON object with non-empty userPoolARN (a Cognito user pool ARN), userPoolClientID and userPoolDomain, and at most 10 authenticationRequestExtraParams";
const OIDC_EXPECTED: &str = "a JSON object with issuer, authorizationEndpoint, tokenEndpoint and userInfoEndpoint (https:// URLs), a non-empty secretName, and at most 10 authenticationRequestExtraParams";

/// One value of a Secret's `data` (or `stringData`). `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    /// Wraps bytes.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The value (for a cache that keeps it; never for display).
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<redacted, {} bytes>", self.0.len())
    }
}

/// The parts of a Kubernetes Secret the translation reads (an input like Services).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretData {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `data`, with `stringData` over it (as the API server merges them).
    pub data: BTreeMap<String, SecretValue>,
}

impl SecretData {
    /// The OIDC keys of a Secret (`clientID`, `clientId`, `clientSecret`): the only ones the
    /// translation reads, so no other secret material is copied.
    #[must_use]
    pub fn from_secret(secret: &k8s_openapi::api::core::v1::Secret) -> Self {
        let keep = |k: &str| {
            matches!(
                k,
                SECRET_CLIENT_ID | SECRET_CLIENT_ID_LEGACY | SECRET_CLIENT_SECRET
            )
        };
        let mut data: BTreeMap<String, SecretValue> = secret
            .data
            .iter()
            .flatten()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), SecretValue(v.0.clone())))
            .collect();
        for (k, v) in secret.string_data.iter().flatten() {
            if keep(k) {
                data.insert(k.clone(), SecretValue(v.clone().into_bytes()));
            }
        }
        Self {
            namespace: secret
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            name: secret.metadata.name.clone().unwrap_or_default(),
            data,
        }
    }
}

/// `auth-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthType {
    None,
    Cognito,
    Oidc,
}

#[derive(Debug, Deserialize)]
struct RawCognito {
    #[serde(default, rename = "userpoolarn")]
    user_pool_arn: String,
    #[serde(default, rename = "userpoolclientid")]
    user_pool_client_id: String,
    #[serde(default, rename = "userpooldomain")]
    user_pool_domain: String,
    #[serde(default, rename = "authenticationrequestextraparams")]
    extra: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct RawOidc {
    #[serde(default, rename = "issuer")]
    issuer: String,
    #[serde(default, rename = "authorizationendpoint")]
    authorization_endpoint: String,
    #[serde(default, rename = "tokenendpoint")]
    token_endpoint: String,
    #[serde(default, rename = "userinfoendpoint")]
    user_info_endpoint: String,
    #[serde(default, rename = "secretname")]
    secret_name: String,
    #[serde(default, rename = "authenticationrequestextraparams")]
    extra: BTreeMap<String, String>,
}

/// JSON with object keys lower-cased at the top level: Go's `encoding/json`, which LBC uses,
/// matches field names case-insensitively.
fn json_folded<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, String> {
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| json_reason(&e))?;
    let value = match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ),
        other => other,
    };
    serde_json::from_value(value).map_err(|e| json_reason(&e))
}

/// Where each authentication annotation is read: the Service's annotations (when the backend
/// forwards to exactly one Service) win over the Ingress's, key by key, as in LBC.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// The Ingress's annotations.
    pub ingress: Annotations<'a>,
    /// The single Service's, if any.
    pub service: Option<Annotations<'a>>,
}

impl<'a> Sources<'a> {
    fn pick(&self, key: &str) -> Annotations<'a> {
        match self.service {
            Some(s) if s.all().is_some_and(|m| m.contains_key(key)) => s,
            _ => self.ingress,
        }
    }
}

/// The authentication settings of one backend, parsed (before the IdP and Secret are
/// resolved, which only HTTPS listeners need).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    kind: AuthType,
    common: AuthenticateCommon,
    /// Where `auth-idp-*` was read, and its value (when set).
    idp: Option<(ObjectRef, String, String)>,
}

impl AuthConfig {
    /// Whether the backend authenticates (`auth-type` cognito or oidc).
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.kind != AuthType::None
    }
}

/// Parses the authentication annotations of one backend. Malformed values are errors even
/// where no HTTPS listener uses them (as in LBC, which parses them for every backend).
pub fn parse(sources: &Sources<'_>) -> Result<AuthConfig, BuildError> {
    let a = sources.pick(AUTH_TYPE);
    let kind = match a.raw(AUTH_TYPE) {
        None | Some("none") => AuthType::None,
        Some("cognito") => AuthType::Cognito,
        Some("oidc") => AuthType::Oidc,
        Some(other) => {
            return Err(invalid_annotation(
                a.object(),
                AUTH_TYPE,
                other,
                "none, cognito or oidc",
            ))
        }
    };
    let a = sources.pick(AUTH_ON_UNAUTHENTICATED_REQUEST);
    let on_unauthenticated_request = a
        .parse_with(
            AUTH_ON_UNAUTHENTICATED_REQUEST,
            "authenticate, allow or deny",
            |v| matches!(v, "authenticate" | "allow" | "deny").then(|| v.to_owned()),
        )?
        .unwrap_or_else(|| defaults::ON_UNAUTHENTICATED_REQUEST.to_owned());
    let scope = sources
        .pick(AUTH_SCOPE)
        .string(AUTH_SCOPE)?
        .unwrap_or_else(|| defaults::SCOPE.to_owned());
    let session_cookie_name = sources
        .pick(AUTH_SESSION_COOKIE)
        .string(AUTH_SESSION_COOKIE)?
        .unwrap_or_else(|| defaults::SESSION_COOKIE.to_owned());
    let session_timeout = sources
        .pick(AUTH_SESSION_TIMEOUT)
        .int(AUTH_SESSION_TIMEOUT, 1, defaults::SESSION_TIMEOUT)?
        .unwrap_or(defaults::SESSION_TIMEOUT);
    let idp_key = match kind {
        AuthType::Cognito => Some(AUTH_IDP_COGNITO),
        AuthType::Oidc => Some(AUTH_IDP_OIDC),
        AuthType::None => None,
    };
    let idp = idp_key.and_then(|key| {
        let a = sources.pick(key);
        a.raw(key)
            .map(|v| (a.object().clone(), key.to_owned(), v.to_owned()))
    });
    let config = AuthConfig {
        kind,
        common: AuthenticateCommon {
            authentication_request_extra_params: BTreeMap::new(),
            on_unauthenticated_request,
            scope,
            session_cookie_name,
            session_timeout,
        },
        idp,
    };
    // A malformed IdP document is an error wherever it is used (LBC parses it always).
    if let Some((object, key, raw)) = &config.idp {
        match config.kind {
            AuthType::Cognito => {
                cognito(object, key, raw)?;
            }
            AuthType::Oidc => {
                oidc(object, key, raw)?;
            }
            AuthType::None => {}
        }
    }
    Ok(config)
}

fn extra_ok(extra: &BTreeMap<String, String>) -> bool {
    extra.len() <= MAX_EXTRA_PARAMS && extra.keys().all(|k| !k.is_empty())
}

fn cognito(object: &ObjectRef, key: &str, raw: &str) -> Result<RawCognito, BuildError> {
    let err = |detail: String| invalid_annotation(object, key, raw, detail);
    let c: RawCognito = json_folded(raw).map_err(|e| err(format!("{COGNITO_EXPECTED} ({e})")))?;
    let arn_ok = super::annotations::is_arn(&c.user_pool_arn, &["cognito-idp"]);
    if !arn_ok
        || c.user_pool_client_id.is_empty()
        || c.user_pool_domain.is_empty()
        || !extra_ok(&c.extra)
    {
        return Err(err(COGNITO_EXPECTED.to_owned()));
    }
    Ok(c)
}

fn oidc(object: &ObjectRef, key: &str, raw: &str) -> Result<RawOidc, BuildError> {
    let err = |detail: String| invalid_annotation(object, key, raw, detail);
    let o: RawOidc = json_folded(raw).map_err(|e| err(format!("{OIDC_EXPECTED} ({e})")))?;
    let url_ok = |u: &str| u.len() > "https://".len() && u.starts_with("https://");
    if ![
        &o.issuer,
        &o.authorization_endpoint,
        &o.token_endpoint,
        &o.user_info_endpoint,
    ]
    .iter()
    .all(|u| url_ok(u))
        || o.secret_name.is_empty()
        || !extra_ok(&o.extra)
    {
        return Err(err(OIDC_EXPECTED.to_owned()));
    }
    Ok(o)
}

/// The name of the Secret an `auth-idp-oidc` value names, if it can be read.
#[must_use]
pub fn oidc_secret_name(annotations: Option<&BTreeMap<String, String>>) -> Option<String> {
    let raw = annotations?.get(AUTH_IDP_OIDC)?;
    json_folded::<RawOidc>(raw.trim())
        .ok()
        .map(|o| o.secret_name)
        .filter(|n| !n.is_empty())
}

/// The authentication action of a backend on an HTTPS listener, or `None` (`auth-type`
/// none). `object` is the Ingress (errors name it), `namespace` where its Secret is looked
/// up with `secret`.
pub fn action<'s>(
    config: &AuthConfig,
    object: &ObjectRef,
    namespace: &str,
    secret: impl FnOnce(&str) -> Option<&'s SecretData>,
) -> Result<Option<ActionSpec>, BuildError> {
    let missing = |key: &str| BuildError::NotFound {
        object: object.clone(),
        field: format!("annotation {AUTH_TYPE}"),
        target: format!("annotation {key}"),
    };
    match config.kind {
        AuthType::None => Ok(None),
        AuthType::Cognito => {
            let (idp_object, key, raw) = config
                .idp
                .as_ref()
                .ok_or_else(|| missing(AUTH_IDP_COGNITO))?;
            let c = cognito(idp_object, key, raw)?;
            let mut common = config.common.clone();
            common.authentication_request_extra_params = c.extra;
            Ok(Some(ActionSpec::AuthenticateCognito(
                AuthenticateCognitoSpec {
                    user_pool_arn: c.user_pool_arn,
                    user_pool_client_id: c.user_pool_client_id,
                    user_pool_domain: c.user_pool_domain,
                    common,
                },
            )))
        }
        AuthType::Oidc => {
            let (idp_object, key, raw) =
                config.idp.as_ref().ok_or_else(|| missing(AUTH_IDP_OIDC))?;
            let o = oidc(idp_object, key, raw)?;
            let field = format!("annotation {AUTH_IDP_OIDC} secretName");
            let target = format!("secret {namespace}/{}", o.secret_name);
            let not_found = |what: String| BuildError::NotFound {
                object: object.clone(),
                field: field.clone(),
                target: what,
            };
            let data = secret(&o.secret_name).ok_or_else(|| not_found(target.clone()))?;
            let text = |k: &str| -> Result<Option<String>, BuildError> {
                match data.data.get(k) {
                    None => Ok(None),
                    Some(v) => String::from_utf8(v.0.clone()).map(Some).map_err(|_| {
                        // Never the value: only which key is unusable.
                        invalid_annotation(
                            object,
                            AUTH_IDP_OIDC,
                            raw,
                            format!("key {k} of {target} to be UTF-8 text"),
                        )
                    }),
                }
            };
            let client_id = match text(SECRET_CLIENT_ID)? {
                Some(v) => v,
                None => text(SECRET_CLIENT_ID_LEGACY)?.ok_or_else(|| {
                    not_found(format!(
                        "key {SECRET_CLIENT_ID} (or {SECRET_CLIENT_ID_LEGACY}) of {target}"
                    ))
                })?,
            };
            let client_secret = text(SECRET_CLIENT_SECRET)?
                .ok_or_else(|| not_found(format!("key {SECRET_CLIENT_SECRET} of {target}")))?;
            // As LBC: trailing white space off the id, trailing control characters (a
            // newline from `echo`) off the secret.
            let client_id = client_id.trim_end().to_owned();
            let client_secret = client_secret.trim_end_matches(char::is_control).to_owned();
            let mut common = config.common.clone();
            common.authentication_request_extra_params = o.extra;
            Ok(Some(ActionSpec::AuthenticateOidc(AuthenticateOidcSpec {
                issuer: o.issuer,
                authorization_endpoint: o.authorization_endpoint,
                token_endpoint: o.token_endpoint,
                user_info_endpoint: o.user_info_endpoint,
                client_secret: Some(ClientSecret::new(&client_id, client_secret)),
                client_id,
                common,
            })))
        }
    }
}
