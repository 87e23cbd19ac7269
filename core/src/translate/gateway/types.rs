//! The Gateway API objects the translation reads, as plain serde types.
//!
//! The kube-rs organisation's `gateway-api` crate (0.22, the newest on crates.io when this was
//! written) depends on kube 4 and k8s-openapi 0.28 with kube's `derive` feature; this workspace
//! is on kube 5 and k8s-openapi 0.29, and `core` must not depend on kube at all. So the fields
//! the translation reads are declared here, with the Gateway API's field names (standard
//! channel v1.x) and the same shape that crate generates (every optional field an `Option`,
//! unknown fields ignored). Metadata is k8s-openapi's `ObjectMeta`.
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};

/// API group of the Gateway API kinds.
pub const GROUP: &str = "gateway.networking.k8s.io";
/// `apiVersion` of GatewayClass, Gateway and HTTPRoute.
pub const API_VERSION: &str = "gateway.networking.k8s.io/v1";
/// `apiVersion`s of ReferenceGrant in the standard channel (`v1` since Gateway API v1.5, which
/// still serves `v1beta1`; the conformance suite's manifests use `v1`).
pub const REFERENCE_GRANT_API_VERSIONS: [&str; 2] = [
    "gateway.networking.k8s.io/v1beta1",
    "gateway.networking.k8s.io/v1",
];
/// API group of the AWS Load Balancer Controller's Gateway configuration kinds.
pub const AWS_GROUP: &str = "gateway.k8s.aws";
/// `apiVersion`s of LoadBalancerConfiguration the AWS Load Balancer Controller serves.
pub const AWS_API_VERSIONS: [&str; 2] = ["gateway.k8s.aws/v1beta1", "gateway.k8s.aws/v1"];

/// A GatewayClass (cluster-scoped).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClass {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: GatewayClassSpec,
}

/// GatewayClass spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassSpec {
    /// The controller that manages Gateways of this class.
    #[serde(default)]
    pub controller_name: String,
    /// Class-wide configuration (a LoadBalancerConfiguration).
    #[serde(default)]
    pub parameters_ref: Option<ParametersReference>,
}

/// A reference to a configuration object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParametersReference {
    /// API group.
    #[serde(default)]
    pub group: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace (GatewayClass only; the configuration's namespace).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A Gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: GatewaySpec,
}

/// Gateway spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// The GatewayClass.
    #[serde(default)]
    pub gateway_class_name: String,
    /// Listeners.
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// Infrastructure settings (`parametersRef` to a LoadBalancerConfiguration).
    #[serde(default)]
    pub infrastructure: Option<GatewayInfrastructure>,
    /// Which ListenerSets may attach (absent: none).
    #[serde(default)]
    pub allowed_listeners: Option<AllowedListeners>,
}

/// Gateway `spec.allowedListeners`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowedListeners {
    /// Namespaces ListenerSets may come from (`from`: `None`, the default, `Same`, `All` or
    /// `Selector`).
    #[serde(default)]
    pub namespaces: Option<RouteNamespaces>,
}

/// Kind of ListenerSet.
pub const LISTENER_SET: &str = "ListenerSet";

/// A ListenerSet (`gateway.networking.k8s.io/v1`, Gateway API v1.5; GEP-1713): listeners
/// added to an existing Gateway that allows them (`spec.allowedListeners`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSet {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: ListenerSetSpec,
}

/// ListenerSet spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerSetSpec {
    /// The Gateway the listeners are added to.
    #[serde(default)]
    pub parent_ref: ParentGatewayReference,
    /// The listeners (`ListenerEntry`: the fields of a Gateway listener).
    #[serde(default)]
    pub listeners: Vec<Listener>,
}

/// A ListenerSet's `parentRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentGatewayReference {
    /// API group (default `gateway.networking.k8s.io`).
    #[serde(default)]
    pub group: Option<String>,
    /// Kind (default `Gateway`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace (default: the ListenerSet's).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// Gateway `spec.infrastructure`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayInfrastructure {
    /// The configuration, in the Gateway's namespace.
    #[serde(default)]
    pub parameters_ref: Option<ParametersReference>,
}

/// A Gateway listener.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// Name, unique in the Gateway (`sectionName` of parentRefs).
    #[serde(default)]
    pub name: String,
    /// Hostname (precise or `*.` wildcard); absent matches every hostname.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Port.
    #[serde(default)]
    pub port: i32,
    /// `HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP`.
    #[serde(default)]
    pub protocol: String,
    /// TLS settings.
    #[serde(default)]
    pub tls: Option<ListenerTls>,
    /// Which routes may attach.
    #[serde(default)]
    pub allowed_routes: Option<AllowedRoutes>,
}

/// Listener TLS settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerTls {
    /// `Terminate` (default) or `Passthrough`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Certificate references (Secrets); an ALB takes ACM certificates instead.
    #[serde(default)]
    pub certificate_refs: Option<Vec<ObjectReference>>,
}

/// A reference to an object by group, kind, name and optional namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// API group (`""` = core).
    #[serde(default)]
    pub group: Option<String>,
    /// Kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// Listener `allowedRoutes`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowedRoutes {
    /// Namespaces routes may come from.
    #[serde(default)]
    pub namespaces: Option<RouteNamespaces>,
    /// Route kinds.
    #[serde(default)]
    pub kinds: Option<Vec<RouteGroupKind>>,
}

/// `allowedRoutes.namespaces`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteNamespaces {
    /// `Same` (default), `All` or `Selector`.
    #[serde(default)]
    pub from: Option<String>,
    /// Namespace labels (`from: Selector`).
    #[serde(default)]
    pub selector: Option<LabelSelector>,
}

/// A route kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteGroupKind {
    /// API group (default `gateway.networking.k8s.io`).
    #[serde(default)]
    pub group: Option<String>,
    /// Kind.
    #[serde(default)]
    pub kind: String,
}

/// An HTTPRoute.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: HttpRouteSpec,
}

/// HTTPRoute spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// Gateways (and listeners) the route attaches to.
    #[serde(default)]
    pub parent_refs: Option<Vec<ParentReference>>,
    /// Hostnames (precise or `*.` wildcard); absent = the listener's.
    #[serde(default)]
    pub hostnames: Option<Vec<String>>,
    /// Rules; absent = one rule with no match and no backend.
    #[serde(default)]
    pub rules: Option<Vec<HttpRouteRule>>,
}

/// A route's `parentRefs` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// API group (default `gateway.networking.k8s.io`).
    #[serde(default)]
    pub group: Option<String>,
    /// Kind (default `Gateway`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Namespace (default: the route's).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Listener name.
    #[serde(default)]
    pub section_name: Option<String>,
    /// Listener port.
    #[serde(default)]
    pub port: Option<i32>,
}

/// An HTTPRoute rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// Optional rule name (accepted; it changes nothing on an ALB, whose rules are named by
    /// priority and tags).
    #[serde(default)]
    pub name: Option<String>,
    /// Matches (ORed); absent = one `PathPrefix /` match.
    #[serde(default)]
    pub matches: Option<Vec<HttpRouteMatch>>,
    /// Filters.
    #[serde(default)]
    pub filters: Option<Vec<HttpRouteFilter>>,
    /// Backends.
    #[serde(default)]
    pub backend_refs: Option<Vec<HttpBackendRef>>,
    /// Request and backend-request timeouts (an ALB has no per-rule timeout: reported).
    #[serde(default)]
    pub timeouts: Option<HttpRouteTimeouts>,
    /// Retries (an ALB does not retry: reported).
    #[serde(default)]
    pub retry: Option<HttpRouteRetry>,
    /// Session persistence (experimental channel; not expressed yet: reported).
    #[serde(default)]
    pub session_persistence: Option<SessionPersistence>,
}

/// HTTPRoute rule `timeouts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteTimeouts {
    /// Timeout of the whole request, from the client's first byte to the last byte of the
    /// response (a Gateway API duration, e.g. `10s`).
    #[serde(default)]
    pub request: Option<String>,
    /// Timeout of one request from the Gateway to a backend.
    #[serde(default)]
    pub backend_request: Option<String>,
}

/// HTTPRoute rule `retry`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRetry {
    /// HTTP status codes to retry on.
    #[serde(default)]
    pub codes: Option<Vec<i32>>,
    /// Maximum attempts.
    #[serde(default)]
    pub attempts: Option<i32>,
    /// Backoff duration between attempts.
    #[serde(default)]
    pub backoff: Option<String>,
}

/// Rule `sessionPersistence` (HTTPRoute and GRPCRoute, experimental channel).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPersistence {
    /// Cookie or header name.
    #[serde(default)]
    pub session_name: Option<String>,
    /// Absolute timeout of a session.
    #[serde(default)]
    pub absolute_timeout: Option<String>,
    /// Idle timeout of a session.
    #[serde(default)]
    pub idle_timeout: Option<String>,
    /// `Cookie` (default) or `Header`.
    #[serde(default, rename = "type")]
    pub persistence_type: Option<String>,
    /// Cookie settings.
    #[serde(default)]
    pub cookie_config: Option<CookieConfig>,
}

/// `sessionPersistence.cookieConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CookieConfig {
    /// `Session` or `Permanent`.
    #[serde(default)]
    pub lifetime_type: Option<String>,
}

/// An HTTPRoute match (every field ANDed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteMatch {
    /// Path.
    #[serde(default)]
    pub path: Option<HttpPathMatch>,
    /// Headers.
    #[serde(default)]
    pub headers: Option<Vec<HttpValueMatch>>,
    /// Query parameters.
    #[serde(default)]
    pub query_params: Option<Vec<HttpValueMatch>>,
    /// Method.
    #[serde(default)]
    pub method: Option<String>,
}

/// A path match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpPathMatch {
    /// `Exact`, `PathPrefix` (default) or `RegularExpression`.
    #[serde(default, rename = "type")]
    pub match_type: Option<String>,
    /// Value (default `/`).
    #[serde(default)]
    pub value: Option<String>,
}

/// A header or query-parameter match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpValueMatch {
    /// `Exact` (default) or `RegularExpression`.
    #[serde(default, rename = "type")]
    pub match_type: Option<String>,
    /// Header or parameter name.
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// An HTTPRoute filter. Only `RequestRedirect` is read; the others are reported by type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteFilter {
    /// Filter type.
    #[serde(default, rename = "type")]
    pub filter_type: String,
    /// `RequestRedirect` settings.
    #[serde(default)]
    pub request_redirect: Option<HttpRequestRedirect>,
    /// `URLRewrite` settings.
    #[serde(default, rename = "urlRewrite")]
    pub url_rewrite: Option<HttpUrlRewrite>,
}

/// `URLRewrite` filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpUrlRewrite {
    /// The Host header the backend gets.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Path modifier.
    #[serde(default)]
    pub path: Option<HttpPathModifier>,
}

/// `RequestRedirect` filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequestRedirect {
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Option<String>,
    /// Host.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Path modifier.
    #[serde(default)]
    pub path: Option<HttpPathModifier>,
    /// Port.
    #[serde(default)]
    pub port: Option<i32>,
    /// 301 or 302 (default 302).
    #[serde(default)]
    pub status_code: Option<i32>,
}

/// A path modifier of a redirect or rewrite.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpPathModifier {
    /// `ReplaceFullPath` or `ReplacePrefixMatch`.
    #[serde(default, rename = "type")]
    pub modifier_type: String,
    /// The full path (`ReplaceFullPath`).
    #[serde(default)]
    pub replace_full_path: Option<String>,
    /// The prefix (`ReplacePrefixMatch`).
    #[serde(default)]
    pub replace_prefix_match: Option<String>,
}

/// A weighted backend of an HTTPRoute rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpBackendRef {
    /// API group (default `""`, core).
    #[serde(default)]
    pub group: Option<String>,
    /// Kind (default `Service`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace (default: the route's; another needs a ReferenceGrant).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Service port.
    #[serde(default)]
    pub port: Option<i32>,
    /// Weight (default 1).
    #[serde(default)]
    pub weight: Option<i32>,
    /// Per-backend filters (none is supported on an ALB).
    #[serde(default)]
    pub filters: Option<Vec<HttpRouteFilter>>,
}

/// A GRPCRoute (`gateway.networking.k8s.io/v1`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRoute {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: GrpcRouteSpec,
}

/// GRPCRoute spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRouteSpec {
    /// Gateways (and listeners) the route attaches to.
    #[serde(default)]
    pub parent_refs: Option<Vec<ParentReference>>,
    /// Hostnames (precise or `*.` wildcard); absent = the listener's.
    #[serde(default)]
    pub hostnames: Option<Vec<String>>,
    /// Rules; absent = one rule matching every call, with no backend.
    #[serde(default)]
    pub rules: Option<Vec<GrpcRouteRule>>,
}

/// A GRPCRoute rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRouteRule {
    /// Optional rule name.
    #[serde(default)]
    pub name: Option<String>,
    /// Matches (ORed); absent = every call.
    #[serde(default)]
    pub matches: Option<Vec<GrpcRouteMatch>>,
    /// Filters (`RequestHeaderModifier`, `ResponseHeaderModifier`, `RequestMirror`,
    /// `ExtensionRef`: none is expressed by an ALB rule; read by type only).
    #[serde(default)]
    pub filters: Option<Vec<HttpRouteFilter>>,
    /// Backends (the same shape as an HTTPRoute's).
    #[serde(default)]
    pub backend_refs: Option<Vec<HttpBackendRef>>,
    /// Session persistence (experimental channel; not expressed yet: reported).
    #[serde(default)]
    pub session_persistence: Option<SessionPersistence>,
}

/// A GRPCRoute match (every field ANDed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcRouteMatch {
    /// Service and method.
    #[serde(default)]
    pub method: Option<GrpcMethodMatch>,
    /// Headers.
    #[serde(default)]
    pub headers: Option<Vec<HttpValueMatch>>,
}

/// A GRPCRoute method match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrpcMethodMatch {
    /// `Exact` (default) or `RegularExpression`.
    #[serde(default, rename = "type")]
    pub match_type: Option<String>,
    /// Fully qualified service (`package.Service`); absent = every service.
    #[serde(default)]
    pub service: Option<String>,
    /// Method; absent = every method.
    #[serde(default)]
    pub method: Option<String>,
}

/// `apiVersion` of TCPRoute and UDPRoute (experimental channel).
pub const L4_ROUTE_API_VERSION: &str = "gateway.networking.k8s.io/v1alpha2";
/// `apiVersion`s of TLSRoute (experimental channel).
pub const TLS_ROUTE_API_VERSIONS: [&str; 2] = [
    "gateway.networking.k8s.io/v1alpha2",
    "gateway.networking.k8s.io/v1alpha3",
];

/// A TCPRoute, UDPRoute or TLSRoute (the fields read are the same; only TLSRoute has
/// hostnames).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L4Route {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: L4RouteSpec,
}

/// TCPRoute, UDPRoute and TLSRoute spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L4RouteSpec {
    /// Gateways (and listeners) the route attaches to.
    #[serde(default)]
    pub parent_refs: Option<Vec<ParentReference>>,
    /// TLSRoute: SNI hostnames.
    #[serde(default)]
    pub hostnames: Option<Vec<String>>,
    /// Rules.
    #[serde(default)]
    pub rules: Vec<L4RouteRule>,
}

/// A TCPRoute, UDPRoute or TLSRoute rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L4RouteRule {
    /// Optional rule name.
    #[serde(default)]
    pub name: Option<String>,
    /// Backends.
    #[serde(default)]
    pub backend_refs: Option<Vec<HttpBackendRef>>,
}

/// A ReferenceGrant: lets objects of `from` refer to objects of `to` in its namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrant {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: ReferenceGrantSpec,
}

/// ReferenceGrant spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantSpec {
    /// Who may refer.
    #[serde(default)]
    pub from: Vec<ReferenceGrantFrom>,
    /// What may be referred to.
    #[serde(default)]
    pub to: Vec<ReferenceGrantTo>,
}

/// ReferenceGrant `from`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantFrom {
    /// API group.
    #[serde(default)]
    pub group: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
}

/// ReferenceGrant `to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantTo {
    /// API group.
    #[serde(default)]
    pub group: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Name (absent = every object of the kind).
    #[serde(default)]
    pub name: Option<String>,
}

/// The AWS Load Balancer Controller's `LoadBalancerConfiguration` (`gateway.k8s.aws`): the
/// fields this operator honours so far, with that project's names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerConfiguration {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: LoadBalancerConfigurationSpec,
}

/// LoadBalancerConfiguration spec (subset).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerConfigurationSpec {
    /// `prefer-gateway-class` (default) or `prefer-gateway`; honoured on the class's
    /// configuration only.
    #[serde(default)]
    pub merging_mode: Option<String>,
    /// Explicit load balancer name.
    #[serde(default)]
    pub load_balancer_name: Option<String>,
    /// `internal` (default) or `internet-facing`.
    #[serde(default)]
    pub scheme: Option<String>,
    /// `ipv4`, `dualstack` or `dualstack-without-public-ipv4`.
    #[serde(default)]
    pub ip_address_type: Option<String>,
    /// Per-listener settings, keyed by `protocolPort` (`HTTPS:443`).
    #[serde(default)]
    pub listener_configurations: Option<Vec<ListenerConfiguration>>,
    /// Security groups (ids or names).
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    /// Source CIDRs of the managed security group.
    #[serde(default)]
    pub source_ranges: Option<Vec<String>>,
    /// Load balancer attributes.
    #[serde(default)]
    pub load_balancer_attributes: Option<Vec<KeyValue>>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// The WAFv2 web ACL of an ALB Gateway's load balancer.
    #[serde(default, rename = "wafV2")]
    pub waf_v2: Option<WafV2Configuration>,
    /// Shield Advanced protection of an ALB Gateway's load balancer.
    #[serde(default)]
    pub shield_configuration: Option<ShieldConfiguration>,
}

/// `wafV2` of a LoadBalancerConfiguration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WafV2Configuration {
    /// Web ACL ARN; empty (or `none`) removes the load balancer's web ACL.
    #[serde(default, rename = "webACL")]
    pub web_acl: String,
}

/// `shieldConfiguration` of a LoadBalancerConfiguration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShieldConfiguration {
    /// Whether the load balancer has Shield Advanced protection.
    #[serde(default)]
    pub enabled: bool,
}

/// `listenerConfigurations[]` of a LoadBalancerConfiguration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerConfiguration {
    /// `PROTOCOL:PORT`.
    #[serde(default)]
    pub protocol_port: String,
    /// Default certificate ARN.
    #[serde(default)]
    pub default_certificate: Option<String>,
    /// Other certificate ARNs.
    #[serde(default)]
    pub certificates: Option<Vec<String>>,
    /// TLS policy.
    #[serde(default)]
    pub ssl_policy: Option<String>,
    /// ALPN policy of an NLB TLS listener (`None`, `HTTP1Only`, `HTTP2Only`, `HTTP2Optional`,
    /// `HTTP2Preferred`).
    #[serde(default)]
    pub alpn_policy: Option<String>,
}

/// A key/value attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    /// Key.
    #[serde(default)]
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// Every Gateway API object the translation reads (kept apart from the Ingress and Service
/// [`Snapshot`](super::super::Snapshot) so that callers that do not read them are unchanged).
#[derive(Clone, Debug, Default)]
pub struct GatewayObjects {
    /// GatewayClasses.
    pub classes: Vec<GatewayClass>,
    /// Gateways.
    pub gateways: Vec<Gateway>,
    /// HTTPRoutes.
    pub http_routes: Vec<HttpRoute>,
    /// GRPCRoutes.
    pub grpc_routes: Vec<GrpcRoute>,
    /// TCPRoutes.
    pub tcp_routes: Vec<L4Route>,
    /// UDPRoutes.
    pub udp_routes: Vec<L4Route>,
    /// TLSRoutes.
    pub tls_routes: Vec<L4Route>,
    /// ReferenceGrants.
    pub reference_grants: Vec<ReferenceGrant>,
    /// LoadBalancerConfigurations.
    pub load_balancer_configurations: Vec<LoadBalancerConfiguration>,
    /// ListenerSets.
    pub listener_sets: Vec<ListenerSet>,
}

impl GatewayObjects {
    /// Every Service (namespace, name) a route's `backendRefs` name, attached or not: what a
    /// rebuild of the Gateway stacks may look up (the incremental model's partial snapshots
    /// hold them).
    #[must_use]
    pub fn referenced_services(&self) -> std::collections::BTreeSet<(String, String)> {
        let mut out = std::collections::BTreeSet::new();
        let mut add = |meta: &ObjectMeta, refs: &mut dyn Iterator<Item = &HttpBackendRef>| {
            let route_ns = meta.namespace.as_deref().unwrap_or("default");
            for b in refs {
                let core = b.group.as_deref().unwrap_or("").is_empty();
                if core && b.kind.as_deref().unwrap_or("Service") == "Service" {
                    let ns = b.namespace.as_deref().unwrap_or(route_ns);
                    out.insert((ns.to_owned(), b.name.clone()));
                }
            }
        };
        for r in &self.http_routes {
            add(
                &r.metadata,
                &mut r
                    .spec
                    .rules
                    .iter()
                    .flatten()
                    .flat_map(|rule| rule.backend_refs.iter().flatten()),
            );
        }
        for r in &self.grpc_routes {
            add(
                &r.metadata,
                &mut r
                    .spec
                    .rules
                    .iter()
                    .flatten()
                    .flat_map(|rule| rule.backend_refs.iter().flatten()),
            );
        }
        for r in self
            .tcp_routes
            .iter()
            .chain(&self.udp_routes)
            .chain(&self.tls_routes)
        {
            add(
                &r.metadata,
                &mut r
                    .spec
                    .rules
                    .iter()
                    .flat_map(|rule| rule.backend_refs.iter().flatten()),
            );
        }
        out
    }

    /// Whether no Gateway API object was read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
            && self.gateways.is_empty()
            && self.http_routes.is_empty()
            && self.grpc_routes.is_empty()
            && self.tcp_routes.is_empty()
            && self.udp_routes.is_empty()
            && self.tls_routes.is_empty()
            && self.reference_grants.is_empty()
            && self.load_balancer_configurations.is_empty()
            && self.listener_sets.is_empty()
    }
}
