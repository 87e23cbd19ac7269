//! ACM certificate discovery, pure: which issued certificates cover a listener's hosts.
//!
//! An HTTPS listener of an Ingress that names no certificate (`certificate-arn`, IngressClassParams
//! `spec.certificateArn`) gets, as in the AWS Load Balancer Controller
//! (`pkg/certs/cert_discovery.go`), every ISSUED ACM certificate one of whose domain names
//! covers one of the Ingress's hosts (`spec.rules[].host` and `spec.tls[].hosts`, together). A
//! domain name covers a host when it is the host, or when it is a wildcard `*.rest` and the host
//! is one label followed by `rest`. A host no certificate covers is an error of the stack.
//!
//! The translation records what to discover on the listener
//! ([`crate::model::ListenerSpec::certificate_discovery`]); the AWS layer lists the account's
//! issued certificates once per pass, only when some listener needs them, and [`resolve_stack`]
//! turns the records into certificate ARNs before planning. [`discover`] serves any listener
//! by hostname (a Gateway listener's `hostname` too).
use std::collections::BTreeSet;

use crate::model::{CertificateDiscovery, Stack};

/// An issued ACM certificate and the domain names it covers (its domain name and subject
/// alternative names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcmCertificate {
    /// Certificate ARN.
    pub arn: String,
    /// Domain names (`example.com`, `*.example.com`).
    pub domains: Vec<String>,
}

/// Why certificates could not be discovered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// No issued certificate covers a host (LBC: `no certificate found for host: <host>`).
    #[error("no certificate found for host: {host} (no ISSUED ACM certificate has it or a one-label wildcard of it among its domain names; issue or import one, or set alb.ingress.kubernetes.io/certificate-arn)")]
    NoCertificate {
        /// The host.
        host: String,
    },
}

/// Whether an ACM domain name covers `host`: equal, or a wildcard `*.rest` and the host is one
/// label followed by `.rest` (LBC's rule, case as written).
#[must_use]
pub fn domain_matches_host(domain: &str, host: &str) -> bool {
    if let Some(rest) = domain.strip_prefix("*.") {
        return host
            .split_once('.')
            .is_some_and(|(label, host_rest)| !label.contains('.') && host_rest == rest);
    }
    domain == host
}

/// The ARNs of the certificates covering `hosts`, sorted and without duplicates (LBC's order);
/// an error names the first host (in the order given) that no certificate covers.
///
/// # Errors
/// [`DiscoveryError::NoCertificate`] when a host has no certificate.
pub fn discover(
    hosts: &[String],
    certificates: &[AcmCertificate],
) -> Result<Vec<String>, DiscoveryError> {
    let mut arns = BTreeSet::new();
    for host in hosts {
        let mut found = false;
        for c in certificates {
            if c.domains.iter().any(|d| domain_matches_host(d, host)) {
                found = true;
                arns.insert(c.arn.clone());
            }
        }
        if !found {
            return Err(DiscoveryError::NoCertificate { host: host.clone() });
        }
    }
    Ok(arns.into_iter().collect())
}

/// Whether some listener of `stack` needs certificates discovered.
#[must_use]
pub fn needs_discovery(stack: &Stack) -> bool {
    stack
        .listeners
        .iter()
        .any(|l| !l.certificate_discovery.is_empty())
}

/// `stack` with every listener's discovered certificates in place: each object's certificates
/// go where its members' order puts them ([`CertificateDiscovery::after`]), a certificate
/// already listed is not listed again, and the first is the default certificate. The records
/// are removed. A stack without records is returned as it is.
///
/// # Errors
/// The message of the first listener whose discovery failed, naming its port and the object.
pub fn resolve_stack(stack: &Stack, certificates: &[AcmCertificate]) -> Result<Stack, String> {
    let mut out = stack.clone();
    for listener in &mut out.listeners {
        if listener.certificate_discovery.is_empty() {
            continue;
        }
        let records = std::mem::take(&mut listener.certificate_discovery);
        let explicit = std::mem::take(&mut listener.certificates);
        let mut merged: Vec<String> = Vec::new();
        let push = |arn: String, merged: &mut Vec<String>| {
            if !merged.contains(&arn) {
                merged.push(arn);
            }
        };
        let found = |r: &CertificateDiscovery| {
            discover(&r.hosts, certificates).map_err(|e| {
                // A Gateway names its certificates in its LoadBalancerConfiguration, not in an
                // Ingress annotation.
                let why = match &e {
                    DiscoveryError::NoCertificate { host } if r.object.starts_with("gateway ") => {
                        format!(
                            "no certificate found for host: {host} (no ISSUED ACM certificate has it or a one-label wildcard of it among its domain names; issue or import one, or set listenerConfigurations[protocolPort=HTTPS:{}].defaultCertificate in the Gateway's LoadBalancerConfiguration)",
                            listener.port
                        )
                    }
                    DiscoveryError::NoCertificate { .. } => e.to_string(),
                };
                format!(
                    "certificate discovery for HTTPS listener port {} of {}: {why}",
                    listener.port, r.object
                )
            })
        };
        for (i, arn) in explicit.iter().enumerate() {
            for r in records.iter().filter(|r| r.after == i) {
                for a in found(r)? {
                    push(a, &mut merged);
                }
            }
            push(arn.clone(), &mut merged);
        }
        for r in records.iter().filter(|r| r.after >= explicit.len()) {
            for a in found(r)? {
                push(a, &mut merged);
            }
        }
        listener.certificates = merged;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(arn: &str, domains: &[&str]) -> AcmCertificate {
        AcmCertificate {
            arn: arn.to_owned(),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    /// LBC's `Test_acmCertDiscovery_domainMatchesHost` table, plus a wildcard host.
    #[test]
    fn domains_match_hosts_as_lbc() {
        for (domain, host, want) in [
            ("example.com", "example.com", true),
            ("example.com", "www.example.com", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "www.app.example.com", false),
            ("*.example.com", "*.example.com", true),
            ("*.example.com", "wwwexample.com", false),
            ("www.example.com", "*.example.com", false),
            ("Example.com", "example.com", false),
        ] {
            assert_eq!(domain_matches_host(domain, host), want, "{domain} {host}");
        }
    }

    #[test]
    fn every_covering_certificate_is_taken_sorted_and_once() {
        let certs = [
            cert("arn:c", &["shop.example.com"]),
            cert("arn:a", &["example.com", "*.example.com"]),
            cert("arn:b", &["other.org"]),
            cert("arn:d", &["api.example.com"]),
        ];
        assert_eq!(
            discover(&hosts(&["shop.example.com", "api.example.com"]), &certs),
            Ok(vec![
                "arn:a".to_owned(),
                "arn:c".to_owned(),
                "arn:d".to_owned()
            ])
        );
        assert_eq!(discover(&[], &certs), Ok(Vec::new()));
    }

    #[test]
    fn a_host_without_certificate_is_an_error_naming_it() {
        let certs = [cert("arn:a", &["*.example.com"])];
        let err = discover(&hosts(&["www.example.com", "a.b.example.com"]), &certs)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("no certificate found for host: a.b.example.com (no ISSUED ACM certificate has it or a one-label wildcard of it among its domain names; issue or import one, or set alb.ingress.kubernetes.io/certificate-arn)")
        );
    }
}
