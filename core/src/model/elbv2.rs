//! ELBv2 desired-state types: load balancer, listeners, rules, target groups.
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $s)] $variant),+
        }

        impl $name {
            /// The API spelling.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }

            /// Parses the API spelling (exact match).
            #[must_use]
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$variant),)+ _ => None }
            }

            /// Every accepted spelling, for error messages.
            #[must_use]
            pub fn expected() -> String {
                [$(concat!("\"", $s, "\"")),+].join(" or ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Load balancer type.
    LoadBalancerType {
        /// Application Load Balancer.
        Application = "application",
        /// Network Load Balancer.
        Network = "network",
    }
}

string_enum! {
    /// Load balancer scheme.
    Scheme {
        /// Reachable from inside the VPC only.
        Internal = "internal",
        /// Reachable from the internet.
        InternetFacing = "internet-facing",
    }
}

string_enum! {
    /// IP address type of a load balancer.
    IpAddressType {
        /// IPv4 only.
        Ipv4 = "ipv4",
        /// IPv4 and IPv6.
        Dualstack = "dualstack",
        /// IPv6 with private IPv4 only.
        DualstackWithoutPublicIpv4 = "dualstack-without-public-ipv4",
    }
}

string_enum! {
    /// Listener, target group or health-check protocol.
    Protocol {
        /// Plain HTTP (ALB).
        Http = "HTTP",
        /// HTTP over TLS (ALB).
        Https = "HTTPS",
        /// TCP (NLB).
        Tcp = "TCP",
        /// UDP (NLB).
        Udp = "UDP",
        /// TCP and UDP on one port (NLB).
        TcpUdp = "TCP_UDP",
        /// TLS terminated by the load balancer (NLB).
        Tls = "TLS",
    }
}

impl Protocol {
    /// What an ALB annotation accepts, for error messages.
    pub const ALB_EXPECTED: &'static str = "\"HTTP\" or \"HTTPS\"";

    /// Parses an ALB protocol (`HTTP` or `HTTPS`; exact match).
    #[must_use]
    pub fn parse_alb(s: &str) -> Option<Self> {
        Self::parse(s).filter(|p| matches!(p, Self::Http | Self::Https))
    }

    /// Whether the load balancer terminates TLS (certificates and a TLS policy apply).
    #[must_use]
    pub const fn is_secure(self) -> bool {
        matches!(self, Self::Https | Self::Tls)
    }
}

string_enum! {
    /// Protocol version spoken to targets.
    ProtocolVersion {
        /// HTTP/1.1.
        Http1 = "HTTP1",
        /// HTTP/2.
        Http2 = "HTTP2",
        /// gRPC.
        Grpc = "GRPC",
    }
}

string_enum! {
    /// How targets are registered.
    TargetType {
        /// EC2 instances (the Service's NodePort on every eligible Node).
        Instance = "instance",
        /// Pod IPs.
        Ip = "ip",
    }
}

/// The load balancer of a stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// AWS name (at most 32 characters).
    pub name: String,
    /// `application` or `network`.
    #[serde(rename = "type")]
    pub lb_type: LoadBalancerType,
    /// `internal` or `internet-facing`.
    pub scheme: Scheme,
    /// `ipv4`, `dualstack` or `dualstack-without-public-ipv4`.
    pub ip_address_type: IpAddressType,
    /// Subnet IDs or Name tag values as given; empty means auto-discovery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// Subnet tag filters (IngressClassParams `subnets.tags`); empty means none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subnet_tags: BTreeMap<String, Vec<String>>,
    /// Security group IDs or Name tag values as given; empty means a managed security group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Source CIDRs allowed by the managed security group (empty when `securityGroups` is set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound_cidrs: Vec<String>,
    /// Managed prefix lists (`pl-…`) allowed by the managed security group
    /// (`security-group-prefix-lists`; empty when `securityGroups` is set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound_prefix_lists: Vec<String>,
    /// With `securityGroups` set: the load balancer also gets the cluster's shared backend
    /// security group, which the target (node) security groups admit on the target ports
    /// (`manage-backend-security-group-rules`, default `--enable-manage-backend-security-group-rules`).
    /// Always false without `securityGroups`: a managed security group always comes with the
    /// backend group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manage_backend_security_group_rules: bool,
    /// The managed security group also lets in the ICMP messages of path MTU discovery
    /// (IPv4 type 3 code 4, IPv6 type 2 code 0) from every source CIDR
    /// (`aws-load-balancer-enable-icmp-for-path-mtu-discovery: on`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub icmp_for_path_mtu_discovery: bool,
    /// Elastic IP allocation ids, one per subnet in order (internet-facing NLBs only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eip_allocations: Vec<String>,
    /// Private IPv4 addresses, one per subnet in order (internal NLBs only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_ipv4_addresses: Vec<String>,
    /// Load balancer attributes (only the keys that were set).
    pub attributes: BTreeMap<String, String>,
    /// Tags, including the tracking tags.
    pub tags: BTreeMap<String, String>,
    /// The WAFv2 web ACL of the load balancer (ALBs: `wafv2-acl-arn`, IngressClassParams
    /// `wafv2AclArn`, a Gateway's LoadBalancerConfiguration `wafV2.webACL`). `None` leaves
    /// whatever is associated alone, as LBC does when nothing names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wafv2_web_acl: Option<WebAcl>,
    /// Shield Advanced protection (ALBs: `shield-advanced-protection`, a Gateway's
    /// LoadBalancerConfiguration `shieldConfiguration.enabled`). `None` leaves it alone, as LBC
    /// does when nothing sets it; applied only while the account has a Shield Advanced
    /// subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shield_advanced_protection: Option<bool>,
    /// Set when nothing chose the scheme (a Service without a scheme annotation): the name the
    /// load balancer has under each scheme, so that an existing load balancer keeps its scheme
    /// (and so its name), as LBC does. Not part of the plan output.
    #[serde(skip)]
    pub scheme_unset: Option<SchemeNames>,
}

/// The web ACL a load balancer should have.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WebAcl {
    /// This web ACL (its ARN), replacing any other.
    Associate(String),
    /// None: whatever is associated is removed (the annotation's `none`).
    Disassociate,
}

/// The generated name of a load balancer under each scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeNames {
    /// Name with scheme `internal`.
    pub internal: String,
    /// Name with scheme `internet-facing`.
    pub internet_facing: String,
}

/// A listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSpec {
    /// Port.
    pub port: u16,
    /// `HTTP` or `HTTPS`.
    pub protocol: Protocol,
    /// Default actions (what happens when no rule matches).
    pub default_actions: Vec<ActionSpec>,
    /// Rules in priority order (priorities 1..N).
    pub rules: Vec<RuleSpec>,
    /// TLS policy (HTTPS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// Certificate ARNs (HTTPS and TLS only); the first is the default certificate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    /// Certificates still to be found in ACM (HTTPS listeners of Ingresses that name none),
    /// one record per Ingress; the AWS layer replaces them with ARNs in `certificates`
    /// (`certificates::resolve_stack`) before planning. `plan` shows them as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_discovery: Vec<CertificateDiscovery>,
    /// ALPN policy (TLS listeners of NLBs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn_policy: Option<String>,
    /// Listener attributes (only the keys that were set: `listener-attributes.*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Mutual TLS (`mutual-authentication`, HTTPS listeners only); `None`: not set, and the
    /// listener's setting is left as it is (LBC's default, without its
    /// `EnhancedDefaultBehavior` feature gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual_authentication: Option<MutualAuthenticationSpec>,
    /// Tags, including the tracking tags (resource id = the port).
    pub tags: BTreeMap<String, String>,
}

/// A listener's mutual TLS, with the ELBv2 field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutualAuthenticationSpec {
    /// `off`, `passthrough` or `verify`.
    pub mode: String,
    /// Trust store ARN (`verify` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_store: Option<String>,
    /// Accept expired client certificates (`verify` only; LBC's default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_client_certificate_expiry: Option<bool>,
    /// `on` or `off` (`verify` only; LBC's default off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_trust_store_ca_names: Option<String>,
}

/// The ACM certificates of one object's hosts, to be discovered for a listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDiscovery {
    /// The object whose hosts these are (`ingress namespace/name`).
    pub object: String,
    /// Hosts to cover, sorted: the object's rule hosts and TLS hosts.
    pub hosts: Vec<String>,
    /// How many of the listener's `certificates` come before these (the members' order).
    pub after: usize,
}

/// A listener rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    /// Priority, 1..N per listener.
    pub priority: u32,
    /// Conditions; all must match.
    pub conditions: Vec<ConditionSpec>,
    /// Actions.
    pub actions: Vec<ActionSpec>,
    /// Tags, including the tracking tags (resource id = `port:priority`).
    pub tags: BTreeMap<String, String>,
    /// Request transforms (`transforms.<service>`, a Gateway's URLRewrite filter).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<TransformSpec>,
    /// The object the rule came from (`kind namespace/name`), for people reading a plan.
    /// Not part of the JSON contract.
    #[serde(skip)]
    pub source: String,
}

/// A rule transform, named like the ELBv2 API (`type` = `host-header-rewrite` or
/// `url-rewrite`): the request is rewritten before it is forwarded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TransformSpec {
    /// Rewrites the Host header.
    #[serde(rename_all = "camelCase")]
    HostHeaderRewrite {
        /// Rewrites (regular expression and replacement).
        rewrites: Vec<RewriteSpec>,
    },
    /// Rewrites the URL (path and query string).
    #[serde(rename_all = "camelCase")]
    UrlRewrite {
        /// Rewrites (regular expression and replacement).
        rewrites: Vec<RewriteSpec>,
    },
}

/// One rewrite of a transform: what matches `regex` is replaced by `replace` (`$1` … refer to
/// its groups).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewriteSpec {
    /// Regular expression.
    pub regex: String,
    /// Replacement.
    pub replace: String,
}

/// A rule condition, named like the ELBv2 API (`field` = `host-header`, `path-pattern`, ...).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "kebab-case")]
pub enum ConditionSpec {
    /// Host header matches one of the values (`*` and `?` wildcards allowed).
    HostHeader {
        /// Host patterns.
        values: Vec<String>,
    },
    /// Path matches one of the patterns.
    PathPattern {
        /// Path patterns.
        values: Vec<String>,
    },
    /// A header matches one of the values.
    HttpHeader {
        /// Header name.
        #[serde(rename = "httpHeaderName")]
        http_header_name: String,
        /// Value patterns.
        values: Vec<String>,
    },
    /// Request method is one of the values.
    HttpRequestMethod {
        /// Methods.
        values: Vec<String>,
    },
    /// Query string contains one of the key/value pairs.
    QueryString {
        /// Key/value patterns.
        values: Vec<QueryStringKeyValue>,
    },
    /// Source IP is in one of the CIDRs.
    SourceIp {
        /// CIDRs.
        values: Vec<String>,
    },
}

impl LoadBalancerSpec {
    /// Whether the load balancer uses the cluster's shared backend security group: always with
    /// a managed security group, and with user security groups when
    /// [`Self::manage_backend_security_group_rules`] is set (as LBC's
    /// `buildLoadBalancerSecurityGroups`).
    #[must_use]
    pub fn uses_backend_security_group(&self) -> bool {
        self.security_groups.is_empty() || self.manage_backend_security_group_rules
    }
}

impl ConditionSpec {
    /// The ELBv2 field name.
    #[must_use]
    pub const fn field(&self) -> &'static str {
        match self {
            Self::HostHeader { .. } => "host-header",
            Self::PathPattern { .. } => "path-pattern",
            Self::HttpHeader { .. } => "http-header",
            Self::HttpRequestMethod { .. } => "http-request-method",
            Self::QueryString { .. } => "query-string",
            Self::SourceIp { .. } => "source-ip",
        }
    }

    /// How many values this condition counts against the per-rule limit.
    #[must_use]
    pub fn value_count(&self) -> usize {
        match self {
            Self::HostHeader { values }
            | Self::PathPattern { values }
            | Self::HttpHeader { values, .. }
            | Self::HttpRequestMethod { values }
            | Self::SourceIp { values } => values.len(),
            Self::QueryString { values } => values.len(),
        }
    }
}

/// One query-string match.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryStringKeyValue {
    /// Key (absent = any key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Value pattern.
    pub value: String,
}

/// A rule or default action, named like the ELBv2 API (`type` = `forward`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ActionSpec {
    /// Forward to one or more weighted target groups.
    #[serde(rename_all = "camelCase")]
    Forward {
        /// Target groups with weights.
        target_groups: Vec<TargetGroupRef>,
        /// Target group stickiness.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stickiness: Option<StickinessSpec>,
    },
    /// Answer directly.
    FixedResponse(FixedResponseSpec),
    /// Redirect.
    Redirect(RedirectSpec),
    /// Authenticate with an Amazon Cognito user pool before the next action (HTTPS only).
    AuthenticateCognito(AuthenticateCognitoSpec),
    /// Authenticate with an OpenID Connect identity provider before the next action (HTTPS
    /// only).
    AuthenticateOidc(AuthenticateOidcSpec),
}

impl ActionSpec {
    /// Whether this is an authentication action (it precedes the action that answers).
    #[must_use]
    pub const fn is_authenticate(&self) -> bool {
        matches!(
            self,
            Self::AuthenticateCognito(_) | Self::AuthenticateOidc(_)
        )
    }
}

/// The settings every authentication action has (`auth-scope`, `auth-session-cookie`,
/// `auth-session-timeout`, `auth-on-unauthenticated-request`), with LBC's defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateCommon {
    /// Query parameters sent to the authorization endpoint (at most 10).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authentication_request_extra_params: BTreeMap<String, String>,
    /// `authenticate`, `allow` or `deny`.
    pub on_unauthenticated_request: String,
    /// Space-separated claims to request (`openid`).
    pub scope: String,
    /// Session cookie name (`AWSELBAuthSessionCookie`).
    pub session_cookie_name: String,
    /// Session lifetime in seconds (`604800`).
    pub session_timeout: i64,
}

/// An `authenticate-cognito` action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateCognitoSpec {
    /// User pool ARN.
    #[serde(rename = "userPoolARN")]
    pub user_pool_arn: String,
    /// User pool app client id.
    #[serde(rename = "userPoolClientID")]
    pub user_pool_client_id: String,
    /// User pool domain (prefix or full domain).
    pub user_pool_domain: String,
    /// Scope, session and behaviour.
    #[serde(flatten)]
    pub common: AuthenticateCommon,
}

/// An `authenticate-oidc` action. The client secret is held, never shown: see
/// [`ClientSecret`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateOidcSpec {
    /// Issuer.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// User info endpoint.
    pub user_info_endpoint: String,
    /// OAuth 2.0 client id (from the Secret's `clientID`).
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// OAuth 2.0 client secret (from the Secret's `clientSecret`); `None` when read back from
    /// AWS, which never returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// Scope, session and behaviour.
    #[serde(flatten)]
    pub common: AuthenticateCommon,
}

/// An OIDC client secret. Its value is only reachable through [`ClientSecret::expose`] (for
/// the AWS call that sends it): `Debug`, `Display` and serialisation (the `plan -o json`
/// output) show `redacted sha256:<fingerprint>` instead, and it cannot be deserialised.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret {
    value: String,
    fingerprint: String,
}

impl ClientSecret {
    /// Wraps a secret; `client_id` salts the fingerprint.
    #[must_use]
    pub fn new(client_id: &str, value: String) -> Self {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"aws-lb-operator oidc client secret\0");
        h.update(client_id.as_bytes());
        h.update(b"\0");
        h.update(value.as_bytes());
        let digest = h.finalize();
        let fingerprint = digest
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        Self { value, fingerprint }
    }

    /// The secret itself: only for the request that sends it to AWS.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// 16 hex digits of a salted SHA-256 of the secret: changes when the secret changes,
    /// and is what plans, tags and logs show.
    #[must_use]
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientSecret(redacted sha256:{})", self.fingerprint)
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redacted sha256:{}", self.fingerprint)
    }
}

impl Serialize for ClientSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClientSecret {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "an OIDC client secret is never read from a plan (it is shown redacted)",
        ))
    }
}

/// A target group in a forward action: one of `id` (a target group of this stack), `arn` or
/// `name` (an existing target group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupRef {
    /// Id of a target group in this stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// ARN of an existing target group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Name of an existing target group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Weight, 0..=999.
    pub weight: u32,
}

/// Target group stickiness of a forward action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StickinessSpec {
    /// Whether stickiness is on.
    pub enabled: bool,
    /// Duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
}

/// A fixed response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixedResponseSpec {
    /// HTTP status code (`2XX`, `4XX` or `5XX`).
    pub status_code: String,
    /// Content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_body: Option<String>,
}

/// A redirect, with ELBv2 defaults filled in (`#{host}`, `/#{path}`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedirectSpec {
    /// Protocol (`HTTP`, `HTTPS` or `#{protocol}`).
    pub protocol: String,
    /// Port or `#{port}`.
    pub port: String,
    /// Host or `#{host}`.
    pub host: String,
    /// Path or `/#{path}`.
    pub path: String,
    /// Query or `#{query}`.
    pub query: String,
    /// `HTTP_301` or `HTTP_302`.
    pub status_code: String,
}

/// A target group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupSpec {
    /// Resource id in the stack: `namespace/ingress-service:port`.
    pub id: String,
    /// AWS name (generated, at most 32 characters).
    pub name: String,
    /// Port (NodePort for instance targets, the numeric target port for ip targets, 1 when
    /// the target port is named).
    pub port: u16,
    /// `HTTP` or `HTTPS`.
    pub protocol: Protocol,
    /// `HTTP1`, `HTTP2` or `GRPC` (ALB target groups only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<ProtocolVersion>,
    /// `instance` or `ip`.
    pub target_type: TargetType,
    /// `ipv4` (IPv6 target groups are not built yet).
    pub ip_address_type: String,
    /// Health check.
    pub health_check: HealthCheckSpec,
    /// Desired targets, sorted by id then port.
    pub targets: Vec<TargetSpec>,
    /// Target group attributes (only the keys that were set).
    pub attributes: BTreeMap<String, String>,
    /// Tags, including the tracking tags (resource id = `id`).
    pub tags: BTreeMap<String, String>,
}

/// Health check of a target group, with the ELBv2 field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    /// `HTTP`, `HTTPS` or `TCP`.
    pub protocol: Protocol,
    /// `traffic-port` or a port number.
    pub port: String,
    /// Path (HTTP and HTTPS checks; empty for TCP).
    #[serde(default)]
    pub path: String,
    /// Seconds between checks.
    pub interval_seconds: u32,
    /// Seconds before a check times out.
    pub timeout_seconds: u32,
    /// Consecutive successes to become healthy.
    pub healthy_threshold_count: u32,
    /// Consecutive failures to become unhealthy.
    pub unhealthy_threshold_count: u32,
    /// Success codes.
    pub matcher: MatcherSpec,
}

/// Health-check success codes: HTTP codes, or gRPC codes for gRPC target groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatcherSpec {
    /// HTTP codes such as `200`, `200,302` or `200-299`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_code: Option<String>,
    /// gRPC codes such as `12` or `0-99`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_code: Option<String>,
}

/// One target: an instance id or an IP, with its port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSpec {
    /// EC2 instance id or IP address.
    pub id: String,
    /// Port.
    pub port: u16,
}
