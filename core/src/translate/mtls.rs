//! `alb.ingress.kubernetes.io/mutual-authentication`: mutual TLS per HTTPS listen port, as the
//! AWS Load Balancer Controller reads it (`computeIngressMutualAuthentication`,
//! `validateMutualAuthenticationConfig` in `pkg/ingress/model_build_listener.go`), with its
//! messages.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::annotations::{json_reason, Annotations};
use super::error::{invalid_annotation, BuildError};
use crate::model::MutualAuthenticationSpec;

/// The annotation.
pub const MUTUAL_AUTHENTICATION: &str = "alb.ingress.kubernetes.io/mutual-authentication";

/// What the annotation must look like.
pub const EXPECTED: &str = "a JSON list of {\"port\", \"mode\" (off, passthrough or verify), \"trustStore\" (verify only: a trust store ARN), \"ignoreClientCertificateExpiry\" (verify only), \"advertiseTrustStoreCaNames\" (verify only: on or off)}";

/// A trust store ARN, for messages.
const STORE_EXAMPLE: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/name/0123456789abcdef";

#[derive(Debug, Deserialize)]
struct RawEntry {
    #[serde(default)]
    port: i64,
    #[serde(default)]
    mode: String,
    #[serde(default, rename = "truststore")]
    trust_store: Option<String>,
    #[serde(default, rename = "ignoreclientcertificateexpiry")]
    ignore_client_certificate_expiry: Option<bool>,
    #[serde(default, rename = "advertisetruststorecanames")]
    advertise_trust_store_ca_names: Option<String>,
}

/// LBC's validation of one entry; `Err` is LBC's message.
fn validate(e: &RawEntry) -> Result<(), String> {
    let port = e.port;
    if !(1..=65535).contains(&port) {
        return Err(format!("listen port must be within [1, 65535]: {port}"));
    }
    let mode = e.mode.as_str();
    if mode.is_empty() {
        return Err(format!(
            "mutualAuthentication mode cannot be empty for port {port}"
        ));
    }
    if !matches!(mode, "off" | "passthrough" | "verify") {
        return Err(format!(
            "mutualAuthentication mode value must be among [off, passthrough, verify] for port {port} : {mode}"
        ));
    }
    let store = e.trust_store.as_deref().unwrap_or_default();
    if mode == "verify" && store.is_empty() {
        return Err(format!(
            "trustStore is required when mutualAuthentication mode is verify for port {port}"
        ));
    }
    if mode != "verify" && !store.is_empty() {
        return Err(format!(
            "Mutual Authentication mode {mode} does not support trustStore for port {port}"
        ));
    }
    if mode != "verify" && e.ignore_client_certificate_expiry.is_some() {
        return Err(format!(
            "Mutual Authentication mode {mode} does not support ignoring client certificate expiry for port {port}"
        ));
    }
    if let Some(advertise) = &e.advertise_trust_store_ca_names {
        if mode != "verify" {
            return Err(format!(
                "Mutual Authentication mode {mode} does not support advertiseTrustStoreCaNames for port {port}"
            ));
        }
        if !matches!(advertise.as_str(), "on" | "off") {
            return Err(format!(
                "advertiseTrustStoreCaNames only supports the values \"on\" and \"off\" got value {advertise} for port {port}"
            ));
        }
    }
    Ok(())
}

/// Parses the annotation: the settings per port (a later entry for a port replaces an earlier
/// one, as in LBC). `Ok(None)` when absent. Only HTTPS listen ports use them (LBC ignores the
/// others).
pub fn parse(
    a: &Annotations<'_>,
) -> Result<Option<BTreeMap<u16, MutualAuthenticationSpec>>, BuildError> {
    let Some(raw) = a.raw(MUTUAL_AUTHENTICATION) else {
        return Ok(None);
    };
    let err = |detail: String| invalid_annotation(a.object(), MUTUAL_AUTHENTICATION, raw, detail);
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| err(format!("{EXPECTED} ({})", json_reason(&e))))?;
    // Go's decoder (LBC's) matches keys case-insensitively.
    let folded = match value {
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::Object(m) => serde_json::Value::Object(
                        m.into_iter()
                            .map(|(k, v)| (k.to_ascii_lowercase(), v))
                            .collect(),
                    ),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    };
    let entries: Vec<RawEntry> = serde_json::from_value(folded)
        .map_err(|e| err(format!("{EXPECTED} ({})", json_reason(&e))))?;
    if entries.is_empty() {
        return Err(err(format!(
            "{EXPECTED} (empty mutualAuthentication configuration)"
        )));
    }
    let mut out = BTreeMap::new();
    for e in entries {
        validate(&e).map_err(|m| err(format!("{EXPECTED} ({m})")))?;
        if let Some(store) = e.trust_store.as_deref().filter(|s| !s.starts_with("arn:")) {
            return Err(err(format!(
                "a trust store ARN such as {STORE_EXAMPLE} for port {} (trust store names, which LBC looks up with DescribeTrustStores, are not supported yet), not {}",
                e.port,
                super::error::shown(store)
            )));
        }
        let port = u16::try_from(e.port).map_err(|_| err(EXPECTED.to_owned()))?;
        let verify = e.mode == "verify";
        out.insert(
            port,
            MutualAuthenticationSpec {
                mode: e.mode,
                trust_store: e.trust_store.filter(|s| !s.is_empty()),
                // As LBC: verify without it means false.
                ignore_client_certificate_expiry: if verify {
                    Some(e.ignore_client_certificate_expiry.unwrap_or(false))
                } else {
                    None
                },
                // As LBC sends it: verify without it is off.
                advertise_trust_store_ca_names: verify.then(|| {
                    e.advertise_trust_store_ca_names
                        .unwrap_or_else(|| "off".to_owned())
                }),
            },
        );
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::error::ObjectRef;

    const STORE: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/ts/0123456789abcdef";

    fn run(value: &str) -> Result<Option<BTreeMap<u16, MutualAuthenticationSpec>>, BuildError> {
        let object = ObjectRef::namespaced("ingress", "shop", "web");
        let map: BTreeMap<String, String> =
            [(MUTUAL_AUTHENTICATION.to_owned(), value.to_owned())].into();
        parse(&Annotations::new(&object, Some(&map)))
    }

    #[test]
    fn parses_each_mode_with_lbc_defaults() {
        let got = run(&format!(
            r#"[{{"port":443,"mode":"off"}},{{"port":8443,"mode":"passthrough"}},{{"port":9443,"mode":"verify","trustStore":"{STORE}"}},{{"Port":10443,"Mode":"verify","TrustStore":"{STORE}","ignoreClientCertificateExpiry":true,"advertiseTrustStoreCaNames":"on"}}]"#
        ))
        .unwrap()
        .unwrap();
        let spec =
            |mode: &str, store: Option<&str>, ignore: Option<bool>, advertise: Option<&str>| {
                MutualAuthenticationSpec {
                    mode: mode.into(),
                    trust_store: store.map(Into::into),
                    ignore_client_certificate_expiry: ignore,
                    advertise_trust_store_ca_names: advertise.map(Into::into),
                }
            };
        assert_eq!(
            got,
            BTreeMap::from([
                (443, spec("off", None, None, None)),
                (8443, spec("passthrough", None, None, None)),
                (9443, spec("verify", Some(STORE), Some(false), Some("off"))),
                (10443, spec("verify", Some(STORE), Some(true), Some("on"))),
            ])
        );
        let object = ObjectRef::namespaced("ingress", "shop", "web");
        assert_eq!(parse(&Annotations::new(&object, None)).unwrap(), None);
    }

    #[test]
    fn lbc_validation_messages() {
        let cases = [
            (r#"[{"port":0,"mode":"off"}]"#, "listen port must be within [1, 65535]: 0"),
            (r#"[{"port":443}]"#, "mutualAuthentication mode cannot be empty for port 443"),
            (
                r#"[{"port":443,"mode":"strict"}]"#,
                "mutualAuthentication mode value must be among [off, passthrough, verify] for port 443 : strict",
            ),
            (
                r#"[{"port":443,"mode":"verify"}]"#,
                "trustStore is required when mutualAuthentication mode is verify for port 443",
            ),
            (
                r#"[{"port":443,"mode":"off","trustStore":"ts"}]"#,
                "Mutual Authentication mode off does not support trustStore for port 443",
            ),
            (
                r#"[{"port":443,"mode":"passthrough","ignoreClientCertificateExpiry":false}]"#,
                "Mutual Authentication mode passthrough does not support ignoring client certificate expiry for port 443",
            ),
            (
                r#"[{"port":443,"mode":"off","advertiseTrustStoreCaNames":"on"}]"#,
                "Mutual Authentication mode off does not support advertiseTrustStoreCaNames for port 443",
            ),
            (
                r#"[{"port":443,"mode":"verify","trustStore":"ts","advertiseTrustStoreCaNames":"yes"}]"#,
                "advertiseTrustStoreCaNames only supports the values \"on\" and \"off\" got value yes for port 443",
            ),
            ("[]", "empty mutualAuthentication configuration"),
            (r#"{"port":443}"#, "invalid type: JSON object, expected a JSON list"),
        ];
        let by_name = run(r#"[{"port":443,"mode":"verify","trustStore":"my-store"}]"#)
            .expect_err("a name")
            .to_string();
        assert!(
            by_name.ends_with(": expected a trust store ARN such as arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/name/0123456789abcdef for port 443 (trust store names, which LBC looks up with DescribeTrustStores, are not supported yet), not \"my-store\""),
            "{by_name}"
        );
        for (value, reason) in cases {
            let err = run(value).expect_err(value).to_string();
            assert_eq!(
                err,
                format!(
                    "ingress shop/web: annotation alb.ingress.kubernetes.io/mutual-authentication has invalid value {:?}: expected {EXPECTED} ({reason})",
                    value
                ),
                "{value}"
            );
        }
    }
}
