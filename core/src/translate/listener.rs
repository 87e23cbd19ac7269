//! Listeners: which ports each member declares, per-port merge across a group (protocol and TLS
//! policy must agree, certificates are concatenated), and default actions.
use std::collections::BTreeMap;

use super::annotations::{
    ListenPort, CERTIFICATE_ARN, LISTENER_ATTRIBUTES_PREFIX, LISTEN_PORTS, SSL_POLICY,
};
use super::error::{invalid_annotation, BuildError, ObjectRef};
use super::member::MemberPlan;
use super::mtls::MUTUAL_AUTHENTICATION;
use crate::model::{
    ActionSpec, CertificateDiscovery, FixedResponseSpec, MutualAuthenticationSpec, Protocol,
    RedirectSpec, StackId,
};

/// Ports a member declares: `listen-ports`, else HTTPS:443 with certificates, else HTTP:80.
#[must_use]
pub fn member_ports(
    listen_ports: Option<&[ListenPort]>,
    has_certificates: bool,
) -> Vec<ListenPort> {
    match listen_ports {
        Some(ports) => ports.to_vec(),
        None if has_certificates => vec![ListenPort {
            port: 443,
            protocol: Protocol::Https,
        }],
        None => vec![ListenPort {
            port: 80,
            protocol: Protocol::Http,
        }],
    }
}

/// The default action when nothing else is configured: fixed 404.
#[must_use]
pub fn not_found_action() -> ActionSpec {
    ActionSpec::FixedResponse(FixedResponseSpec {
        status_code: "404".into(),
        content_type: Some("text/plain".into()),
        message_body: None,
    })
}

/// The HTTP→HTTPS redirect of `ssl-redirect`.
#[must_use]
pub fn ssl_redirect_action(port: u16) -> ActionSpec {
    ActionSpec::Redirect(RedirectSpec {
        protocol: "HTTPS".into(),
        port: port.to_string(),
        host: "#{host}".into(),
        path: "/#{path}".into(),
        query: "#{query}".into(),
        status_code: "HTTP_301".into(),
    })
}

/// A listener while members are merged.
#[derive(Clone, Debug)]
pub(crate) struct ListenerState {
    pub(crate) port: ListenPort,
    pub(crate) owner: ObjectRef,
    pub(crate) ssl_policy: Option<(String, ObjectRef)>,
    pub(crate) certificates: Vec<String>,
    /// Certificates to discover in ACM, per member that names none.
    pub(crate) discovery: Vec<CertificateDiscovery>,
    /// `listener-attributes.{Protocol}-{Port}` of the members, with the member that set each.
    pub(crate) attributes: BTreeMap<String, (String, ObjectRef)>,
    /// `mutual-authentication` of this port, with the member that set it.
    pub(crate) mutual_authentication: Option<(MutualAuthenticationSpec, ObjectRef)>,
}

impl ListenerState {
    pub(crate) fn new(port: ListenPort, owner: &ObjectRef) -> Self {
        Self {
            port,
            owner: owner.clone(),
            ssl_policy: None,
            certificates: Vec::new(),
            discovery: Vec::new(),
            attributes: BTreeMap::new(),
            mutual_authentication: None,
        }
    }

    /// Whether `plan` may declare `lp` on this existing listener.
    pub(crate) fn check(
        &self,
        stack: &StackId,
        plan: &MemberPlan,
        lp: ListenPort,
    ) -> Result<(), BuildError> {
        if lp.protocol != self.port.protocol {
            return Err(BuildError::Conflict {
                object: plan.object.clone(),
                setting: format!("annotation {LISTEN_PORTS} protocol of port {}", lp.port),
                value: lp.protocol.to_string(),
                existing: self.port.protocol.to_string(),
                owner: self.owner.clone(),
                group: stack.clone(),
            });
        }
        if let Some(mine) = plan
            .settings
            .listener_attributes
            .get(&(lp.protocol, lp.port))
        {
            for (key, value) in mine {
                if let Some((theirs, owner)) = self.attributes.get(key) {
                    if theirs != value {
                        return Err(BuildError::Conflict {
                            object: plan.object.clone(),
                            setting: format!(
                                "annotation {LISTENER_ATTRIBUTES_PREFIX}{}-{} key {key}",
                                lp.protocol, lp.port
                            ),
                            value: value.clone(),
                            existing: theirs.clone(),
                            owner: owner.clone(),
                            group: stack.clone(),
                        });
                    }
                }
            }
        }
        if lp.protocol == Protocol::Https {
            // As LBC: members that set mutual TLS for a port must set the same.
            if let (Some(mine), Some((theirs, owner))) = (
                mutual_authentication(plan, lp.port),
                &self.mutual_authentication,
            ) {
                if mine != theirs {
                    return Err(BuildError::Conflict {
                        object: plan.object.clone(),
                        setting: format!("annotation {MUTUAL_AUTHENTICATION} of port {}", lp.port),
                        value: describe_mtls(mine),
                        existing: describe_mtls(theirs),
                        owner: owner.clone(),
                        group: stack.clone(),
                    });
                }
            }
            if let (Some(mine), Some((theirs, owner))) =
                (&plan.settings.ssl_policy, &self.ssl_policy)
            {
                if mine != theirs {
                    return Err(BuildError::Conflict {
                        object: plan.object.clone(),
                        setting: format!("annotation {SSL_POLICY} of port {}", lp.port),
                        value: mine.clone(),
                        existing: theirs.clone(),
                        owner: owner.clone(),
                        group: stack.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    pub(crate) fn merge(&mut self, plan: &MemberPlan) {
        if let Some(mine) = plan
            .settings
            .listener_attributes
            .get(&(self.port.protocol, self.port.port))
        {
            for (key, value) in mine {
                self.attributes
                    .entry(key.clone())
                    .or_insert_with(|| (value.clone(), plan.object.clone()));
            }
        }
        if self.port.protocol != Protocol::Https {
            return;
        }
        if self.mutual_authentication.is_none() {
            if let Some(m) = mutual_authentication(plan, self.port.port) {
                self.mutual_authentication = Some((m.clone(), plan.object.clone()));
            }
        }
        if self.ssl_policy.is_none() {
            if let Some(policy) = &plan.settings.ssl_policy {
                self.ssl_policy = Some((policy.clone(), plan.object.clone()));
            }
        }
        for arn in plan.settings.certificate_arns.iter().flatten() {
            if !self.certificates.contains(arn) {
                self.certificates.push(arn.clone());
            }
        }
        if let Some(hosts) = plan.discovery_hosts.as_ref().filter(|h| !h.is_empty()) {
            self.discovery.push(CertificateDiscovery {
                object: plan.object.to_string(),
                hosts: hosts.clone(),
                after: self.certificates.len(),
            });
        }
    }
}

/// The mutual TLS `plan` sets for `port`.
fn mutual_authentication(plan: &MemberPlan, port: u16) -> Option<&MutualAuthenticationSpec> {
    plan.settings
        .mutual_authentication
        .as_ref()
        .and_then(|m| m.get(&port))
}

/// Mutual TLS settings in a few words, for conflict messages.
fn describe_mtls(m: &MutualAuthenticationSpec) -> String {
    let mut out = format!("mode {}", m.mode);
    if let Some(store) = &m.trust_store {
        out.push_str(&format!(" trustStore {store}"));
    }
    if let Some(ignore) = m.ignore_client_certificate_expiry {
        out.push_str(&format!(" ignoreClientCertificateExpiry {ignore}"));
    }
    if let Some(advertise) = &m.advertise_trust_store_ca_names {
        out.push_str(&format!(" advertiseTrustStoreCaNames {advertise}"));
    }
    out
}

/// An HTTPS port needs a certificate from this member or an earlier one: named, or to be
/// discovered in ACM for hosts.
pub(crate) fn check_certificates(
    existing: Option<&ListenerState>,
    plan: &MemberPlan,
    lp: ListenPort,
) -> Result<(), BuildError> {
    let has_own = plan
        .settings
        .certificate_arns
        .as_ref()
        .is_some_and(|c| !c.is_empty());
    let discovers = plan.discovery_hosts.as_ref().is_some_and(|h| !h.is_empty());
    let has_group = existing.is_some_and(|l| !l.certificates.is_empty() || !l.discovery.is_empty());
    if lp.protocol == Protocol::Https && !has_own && !discovers && !has_group {
        let value = plan
            .listen_ports_raw
            .clone()
            .unwrap_or_else(|| "(default)".into());
        return Err(invalid_annotation(
            &plan.object,
            LISTEN_PORTS,
            &value,
            format!(
                "a certificate for HTTPS port {} from annotation {CERTIFICATE_ARN} or IngressClassParams spec.certificateArn, or a host (spec.rules[].host, spec.tls[].hosts) to discover its certificates in ACM",
                lp.port
            ),
        ));
    }
    Ok(())
}
