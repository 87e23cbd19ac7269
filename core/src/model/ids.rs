//! Stack ids and deterministic AWS names, compatible with the AWS Load Balancer Controller so
//! resources it created can be adopted.
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Longest name AWS accepts for a load balancer or a target group.
pub const MAX_NAME_LEN: usize = 32;

/// What a stack was built from, deciding its tracking tag keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StackKind {
    /// An IngressGroup (`ingress.k8s.aws/stack`, `ingress.k8s.aws/resource`).
    #[default]
    Ingress,
    /// A LoadBalancer Service (`service.k8s.aws/stack`, `service.k8s.aws/resource`).
    Service,
    /// A Gateway of an ALB class (`gateway.k8s.aws.alb/stack`, `gateway.k8s.aws.alb/resource`,
    /// the AWS Load Balancer Controller's ALB Gateway tag prefix).
    Gateway,
    /// A Gateway of an NLB class (`gateway.k8s.aws.nlb/stack`, `gateway.k8s.aws.nlb/resource`,
    /// the AWS Load Balancer Controller's NLB Gateway tag prefix).
    NlbGateway,
}

impl StackKind {
    /// Tag key holding the stack id.
    #[must_use]
    pub const fn stack_tag(self) -> &'static str {
        match self {
            Self::Ingress => super::tags::INGRESS_STACK,
            Self::Service => super::tags::SERVICE_STACK,
            Self::Gateway => super::tags::ALB_GATEWAY_STACK,
            Self::NlbGateway => super::tags::NLB_GATEWAY_STACK,
        }
    }

    /// Tag key holding the resource id inside the stack.
    #[must_use]
    pub const fn resource_tag(self) -> &'static str {
        match self {
            Self::Ingress => super::tags::INGRESS_RESOURCE,
            Self::Service => super::tags::SERVICE_RESOURCE,
            Self::Gateway => super::tags::ALB_GATEWAY_RESOURCE,
            Self::NlbGateway => super::tags::NLB_GATEWAY_RESOURCE,
        }
    }
}

/// Prefix of the display form of Service stacks (`:` cannot appear in Kubernetes names or
/// IngressGroup names, so the forms never collide).
const SERVICE_PREFIX: &str = "service:";
/// Prefix of the display form of Gateway stacks.
const GATEWAY_PREFIX: &str = "gateway:";
/// Prefix of the display form of NLB Gateway stacks.
const NLB_GATEWAY_PREFIX: &str = "nlb-gateway:";

/// Identity of a stack: an explicit IngressGroup (`namespace` empty, `name` = group name), an
/// implicit group of one Ingress (`namespace/name`), or a Service (`service:namespace/name`).
///
/// Serialised as its display form. The tag value written to AWS is [`StackId::tag_value`]
/// (without the `service:` prefix, as the AWS Load Balancer Controller writes it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StackId {
    /// Ingress or Service.
    pub kind: StackKind,
    /// Empty for an explicit group.
    pub namespace: String,
    /// Group name, or the Ingress or Service name.
    pub name: String,
}

impl StackId {
    /// The id of an explicit group.
    #[must_use]
    pub fn explicit(group: &str) -> Self {
        Self {
            kind: StackKind::Ingress,
            namespace: String::new(),
            name: group.to_owned(),
        }
    }

    /// The id of the implicit group of one Ingress.
    #[must_use]
    pub fn implicit(namespace: &str, name: &str) -> Self {
        Self {
            kind: StackKind::Ingress,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The id of a Service's stack.
    #[must_use]
    pub fn service(namespace: &str, name: &str) -> Self {
        Self {
            kind: StackKind::Service,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The id of a Gateway's stack.
    #[must_use]
    pub fn gateway(namespace: &str, name: &str) -> Self {
        Self {
            kind: StackKind::Gateway,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The id of an NLB Gateway's stack.
    #[must_use]
    pub fn nlb_gateway(namespace: &str, name: &str) -> Self {
        Self {
            kind: StackKind::NlbGateway,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Whether this is an explicit group (`group.name`).
    #[must_use]
    pub fn is_explicit(&self) -> bool {
        self.namespace.is_empty()
    }

    /// The value of the stack tag in AWS: `group`, or `namespace/name`.
    #[must_use]
    pub fn tag_value(&self) -> String {
        if self.is_explicit() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }

    /// The stack a resource belongs to, from its tags (`None` when it carries no stack tag).
    #[must_use]
    pub fn from_tags(tags: &std::collections::BTreeMap<String, String>) -> Option<Self> {
        if let Some(v) = tags.get(StackKind::Ingress.stack_tag()) {
            return Some(Self::parse(v));
        }
        if let Some(v) = tags.get(StackKind::Gateway.stack_tag()) {
            let (ns, name) = v.split_once('/').unwrap_or(("", v.as_str()));
            return Some(Self::gateway(ns, name));
        }
        if let Some(v) = tags.get(StackKind::NlbGateway.stack_tag()) {
            let (ns, name) = v.split_once('/').unwrap_or(("", v.as_str()));
            return Some(Self::nlb_gateway(ns, name));
        }
        tags.get(StackKind::Service.stack_tag()).map(|v| {
            let (ns, name) = v.split_once('/').unwrap_or(("", v.as_str()));
            Self::service(ns, name)
        })
    }

    /// Parses the display form.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        if let Some(rest) = s.strip_prefix(SERVICE_PREFIX) {
            let (ns, name) = rest.split_once('/').unwrap_or(("", rest));
            return Self::service(ns, name);
        }
        if let Some(rest) = s.strip_prefix(GATEWAY_PREFIX) {
            let (ns, name) = rest.split_once('/').unwrap_or(("", rest));
            return Self::gateway(ns, name);
        }
        if let Some(rest) = s.strip_prefix(NLB_GATEWAY_PREFIX) {
            let (ns, name) = rest.split_once('/').unwrap_or(("", rest));
            return Self::nlb_gateway(ns, name);
        }
        match s.split_once('/') {
            Some((ns, name)) => Self::implicit(ns, name),
            None => Self::explicit(s),
        }
    }
}

impl fmt::Display for StackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            StackKind::Service => f.write_str(SERVICE_PREFIX)?,
            StackKind::Gateway => f.write_str(GATEWAY_PREFIX)?,
            StackKind::NlbGateway => f.write_str(NLB_GATEWAY_PREFIX)?,
            StackKind::Ingress => {}
        }
        f.write_str(&self.tag_value())
    }
}

impl Serialize for StackId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StackId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(Self::parse(&s))
    }
}

/// Removes every character that is not an ASCII letter or digit (LBC's name sanitising).
#[must_use]
pub fn sanitize_name_part(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Name of the cluster's shared backend security group, in the AWS Load Balancer
/// Controller's shape: `k8s-traffic-<cluster[:232]>-<hash10>`, hash = `sha256(cluster)`.
#[must_use]
pub fn backend_security_group_name(cluster: &str) -> String {
    format!(
        "k8s-traffic-{}-{}",
        truncated(cluster, 232),
        hex_prefix(&[cluster], 10)
    )
}

fn truncated(s: &str, max: usize) -> String {
    let clean = sanitize_name_part(s);
    // Sanitised names are ASCII, so byte and char positions agree.
    clean
        .get(..max.min(clean.len()))
        .unwrap_or_default()
        .to_owned()
}

fn hex_prefix(parts: &[&str], len: usize) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(len);
    for byte in digest.iter() {
        if out.len() >= len {
            break;
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out.truncate(len);
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Generated load balancer name (LBC scheme):
/// implicit group `k8s-<ns[:8]>-<name[:8]>-<hash10>`, explicit group `k8s-<group[:17]>-<hash10>`,
/// where the hash is `sha256(cluster ‖ stackId ‖ scheme)`.
#[must_use]
pub fn load_balancer_name(cluster: &str, stack: &StackId, scheme: &str) -> String {
    let hash = hex_prefix(&[cluster, &stack.to_string(), scheme], 10);
    if stack.is_explicit() {
        format!("k8s-{}-{hash}", truncated(&stack.name, 17))
    } else {
        format!(
            "k8s-{}-{}-{hash}",
            truncated(&stack.namespace, 8),
            truncated(&stack.name, 8)
        )
    }
}

/// Inputs of a generated Ingress target group name.
#[derive(Clone, Copy, Debug)]
pub struct TargetGroupNameInputs<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// Stack the target group belongs to.
    pub stack: &'a StackId,
    /// Namespace of the Ingress (and of the Service).
    pub ingress_namespace: &'a str,
    /// Name of the Ingress.
    pub ingress_name: &'a str,
    /// Name of the Service.
    pub service_name: &'a str,
    /// `metadata.uid` of the Service (empty when unknown, e.g. in offline manifests).
    pub service_uid: &'a str,
    /// Service port as written in the Ingress (number or name).
    pub service_port: &'a str,
    /// Target group port.
    pub target_group_port: u16,
    /// `instance` or `ip`.
    pub target_type: &'a str,
    /// `HTTP` or `HTTPS`.
    pub protocol: &'a str,
    /// `HTTP1`, `HTTP2` or `GRPC`.
    pub protocol_version: &'a str,
}

/// Generated target group name (LBC scheme): `k8s-<svcNs[:8]>-<svcName[:8]>-<hash10>`, where the
/// hash covers cluster, stack, Ingress, Service uid and port, target group port, target type,
/// protocol and protocol version.
#[must_use]
pub fn target_group_name(inputs: &TargetGroupNameInputs<'_>) -> String {
    let stack = inputs.stack.to_string();
    let tg_port = inputs.target_group_port.to_string();
    let hash = hex_prefix(
        &[
            inputs.cluster,
            &stack,
            inputs.ingress_namespace,
            inputs.ingress_name,
            inputs.service_uid,
            inputs.service_port,
            &tg_port,
            inputs.target_type,
            inputs.protocol,
            inputs.protocol_version,
        ],
        10,
    );
    format!(
        "k8s-{}-{}-{hash}",
        truncated(inputs.ingress_namespace, 8),
        truncated(inputs.service_name, 8)
    )
}

/// Generated name of a Gateway's load balancer (the AWS Load Balancer Controller's gateway
/// scheme): `k8s-<ns[:8]>-<name[:8]>-<hash10>`, hash = `sha256(cluster ‖ gateway uid ‖ scheme)`.
/// For a manifest without a uid the translation passes `namespace/name` in its place, so `plan -f`
/// names differ from a cluster's.
#[must_use]
pub fn gateway_load_balancer_name(
    cluster: &str,
    namespace: &str,
    name: &str,
    uid: &str,
    scheme: &str,
) -> String {
    let hash = hex_prefix(&[cluster, uid, scheme], 10);
    format!(
        "k8s-{}-{}-{hash}",
        truncated(namespace, 8),
        truncated(name, 8)
    )
}

/// Inputs of a generated Gateway target group name.
#[derive(Clone, Copy, Debug)]
pub struct GatewayTargetGroupNameInputs<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// Gateway namespace and name.
    pub gateway: (&'a str, &'a str),
    /// Route namespace and name.
    pub route: (&'a str, &'a str),
    /// Route kind (`HTTPRoute`).
    pub route_kind: &'a str,
    /// Service namespace and name.
    pub service: (&'a str, &'a str),
    /// The port hashed: the target group port for instance targets, the Service port as
    /// written in the backendRef for ip targets.
    pub port: &'a str,
    /// `instance` or `ip`.
    pub target_type: &'a str,
    /// `HTTP` or `HTTPS`.
    pub protocol: &'a str,
    /// `HTTP1`, `HTTP2` or `GRPC`.
    pub protocol_version: &'a str,
}

/// Generated name of a Gateway route's target group (the AWS Load Balancer Controller's gateway
/// scheme): `k8s-<routeNs[:8]>-<routeName[:8]>-<hash10>`, the hash over cluster, Gateway,
/// route, route kind, Service, port, target type, protocol and protocol version.
#[must_use]
pub fn gateway_target_group_name(inputs: &GatewayTargetGroupNameInputs<'_>) -> String {
    let hash = hex_prefix(
        &[
            inputs.cluster,
            inputs.gateway.0,
            inputs.gateway.1,
            inputs.route.0,
            inputs.route.1,
            inputs.route_kind,
            inputs.service.0,
            inputs.service.1,
            inputs.port,
            inputs.target_type,
            inputs.protocol,
            inputs.protocol_version,
        ],
        10,
    );
    format!(
        "k8s-{}-{}-{hash}",
        truncated(inputs.route.0, 8),
        truncated(inputs.route.1, 8)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_lbc_scheme() {
        struct Case {
            name: &'static str,
            got: String,
            prefix: &'static str,
        }
        let long = StackId::implicit("a-very-long-namespace", "my.ingress-name-long");
        let cases = [
            Case {
                name: "implicit group truncates namespace and name to 8 sanitised chars",
                got: load_balancer_name("demo", &long, "internal"),
                prefix: "k8s-averylon-myingres-",
            },
            Case {
                name: "explicit group keeps 17 sanitised chars",
                got: load_balancer_name(
                    "demo",
                    &StackId::explicit("shared.public-frontend"),
                    "internal",
                ),
                prefix: "k8s-sharedpublicfront-",
            },
        ];
        for case in cases {
            assert!(
                case.got.starts_with(case.prefix),
                "{}: {}",
                case.name,
                case.got
            );
            assert!(
                case.got.len() <= MAX_NAME_LEN,
                "{}: {} too long",
                case.name,
                case.got
            );
            assert_eq!(
                case.got.len(),
                case.prefix.len() + 10,
                "{}: hash length",
                case.name
            );
        }
    }

    #[test]
    fn backend_security_group_name_has_lbc_shape() {
        // sha256("demo") = 2a97516c354b68848cdbd8f54a226a0a55b21ed138e207ad6c5cbb9c00aa5aea
        assert_eq!(
            backend_security_group_name("demo"),
            "k8s-traffic-demo-2a97516c35"
        );
        assert!(backend_security_group_name(&"x".repeat(300)).len() <= 255);
    }

    #[test]
    fn hash_is_sha256_of_concatenated_inputs() {
        // sha256("democlusterdefault/webinternal"), computed independently with sha256sum.
        let name = load_balancer_name(
            "democluster",
            &StackId::implicit("default", "web"),
            "internal",
        );
        assert_eq!(name, format!("k8s-default-web-{}", &EXPECTED_WEB[..10]));
        let other = load_balancer_name(
            "democluster",
            &StackId::implicit("default", "web"),
            "internet-facing",
        );
        assert_ne!(name, other, "scheme is part of the hash");
    }

    #[test]
    fn gateway_names_hash_what_lbc_hashes() {
        // The hash input is the concatenation (as in LBC); the scheme changes the hash, and
        // the namespace and name are cut to 8 sanitised characters.
        let a = gateway_load_balancer_name("demo", "very-long-ns", "edge.gw", "uid-1", "internal");
        let b = gateway_load_balancer_name(
            "demo",
            "very-long-ns",
            "edge.gw",
            "uid-1",
            "internet-facing",
        );
        assert!(a.starts_with("k8s-verylong-edgegw-"), "{a}");
        assert_ne!(a, b);
        // printf 'demouid-1internal' | sha256sum
        assert_eq!(a, "k8s-verylong-edgegw-1ef803003f");
        let tg = |port| {
            gateway_target_group_name(&GatewayTargetGroupNameInputs {
                cluster: "demo",
                gateway: ("shop", "edge"),
                route: ("shop", "store-route"),
                route_kind: "HTTPRoute",
                service: ("shop", "store"),
                port,
                target_type: "ip",
                protocol: "HTTP",
                protocol_version: "HTTP1",
            })
        };
        assert!(tg("80").starts_with("k8s-shop-storerou-"), "{}", tg("80"));
        assert_ne!(tg("80"), tg("8080"));
        // printf 'demoshopedgeshopstore-routeHTTPRouteshopstore80ipHTTPHTTP1' | sha256sum
        assert_eq!(tg("80"), "k8s-shop-storerou-e3765ccf86");
    }

    const EXPECTED_WEB: &str = include_str!("testdata/lb_hash_default_web.txt");

    /// The tracking tags of `id` (as `tags::with_tracking` writes them).
    fn crate_tags(id: &StackId) -> std::collections::BTreeMap<String, String> {
        [
            (id.kind.stack_tag().to_owned(), id.tag_value()),
            (id.kind.resource_tag().to_owned(), "r".to_owned()),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn stack_id_round_trips_through_serde() {
        for id in [
            StackId::explicit("g1"),
            StackId::implicit("ns", "ing"),
            StackId::gateway("ns", "gw"),
            StackId::nlb_gateway("ns", "gw"),
        ] {
            let json = serde_json::to_string(&id).unwrap();
            let back: StackId = serde_json::from_str(&json).unwrap();
            assert_eq!(back, id, "{json}");
            let tags = crate_tags(&id);
            assert_eq!(StackId::from_tags(&tags), Some(id.clone()), "{tags:?}");
        }
        assert_eq!(
            StackId::nlb_gateway("ns", "gw").to_string(),
            "nlb-gateway:ns/gw"
        );
    }
}
