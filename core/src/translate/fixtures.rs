//! Test builders for Kubernetes objects (struct literals, no ad-hoc JSON).
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Node, NodeSpec, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressClass,
    IngressClassParametersReference, IngressClassSpec, IngressRule, IngressServiceBackend,
    IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::params::{IngressClassParams, IngressClassParamsSpec};
use super::{BuildConfig, Snapshot, SERVICE_NAME_LABEL};

pub(crate) fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(Into::into),
        ..Default::default()
    }
}

pub(crate) fn config() -> BuildConfig {
    BuildConfig::new("demo")
}

/// A backend port: a number, or a name.
#[derive(Clone, Copy, Debug)]
pub(crate) enum P {
    N(i32),
    S(&'static str),
}

pub(crate) fn backend(service: &str, port: P) -> IngressBackend {
    IngressBackend {
        service: Some(IngressServiceBackend {
            name: service.into(),
            port: Some(match port {
                P::N(n) => ServiceBackendPort {
                    number: Some(n),
                    name: None,
                },
                P::S(s) => ServiceBackendPort {
                    number: None,
                    name: Some(s.into()),
                },
            }),
        }),
        resource: None,
    }
}

/// Ingress builder.
#[derive(Clone, Debug)]
pub(crate) struct Ing(pub(crate) Ingress);

pub(crate) fn ingress(ns: &str, name: &str) -> Ing {
    Ing(Ingress {
        metadata: meta(Some(ns), name),
        spec: Some(IngressSpec {
            ingress_class_name: Some("alb".into()),
            ..Default::default()
        }),
        status: None,
    })
}

impl Ing {
    pub(crate) fn annotation(mut self, key: &str, value: &str) -> Self {
        self.0
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    pub(crate) fn class_name(mut self, class: Option<&str>) -> Self {
        if let Some(spec) = self.0.spec.as_mut() {
            spec.ingress_class_name = class.map(Into::into);
        }
        self
    }

    /// A rule: host (None = any) and paths `(pathType, path, service, port)`.
    pub(crate) fn rule(mut self, host: Option<&str>, paths: &[(&str, &str, &str, P)]) -> Self {
        let rule = IngressRule {
            host: host.map(Into::into),
            http: Some(HTTPIngressRuleValue {
                paths: paths
                    .iter()
                    .map(|(t, p, svc, port)| HTTPIngressPath {
                        path_type: (*t).into(),
                        path: (!p.is_empty()).then(|| (*p).into()),
                        backend: backend(svc, *port),
                    })
                    .collect(),
            }),
        };
        if let Some(spec) = self.0.spec.as_mut() {
            spec.rules.get_or_insert_with(Vec::new).push(rule);
        }
        self
    }

    pub(crate) fn default_backend(mut self, service: &str, port: P) -> Self {
        if let Some(spec) = self.0.spec.as_mut() {
            spec.default_backend = Some(backend(service, port));
        }
        self
    }

    pub(crate) fn build(self) -> Ingress {
        self.0
    }
}

/// A Service port: `(name, port, targetPort, nodePort)`.
pub(crate) type SvcPort = (&'static str, i32, Option<P>, Option<i32>);

pub(crate) fn service(ns: &str, name: &str, type_: &str, ports: &[SvcPort]) -> Service {
    Service {
        metadata: ObjectMeta {
            uid: Some(format!("uid-{name}")),
            ..meta(Some(ns), name)
        },
        spec: Some(ServiceSpec {
            type_: Some(type_.into()),
            ports: Some(
                ports
                    .iter()
                    .map(|(pname, port, target, node_port)| ServicePort {
                        name: (!pname.is_empty()).then(|| (*pname).into()),
                        port: *port,
                        target_port: target.map(|t| match t {
                            P::N(n) => IntOrString::Int(n),
                            P::S(s) => IntOrString::String(s.into()),
                        }),
                        node_port: *node_port,
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: None,
    }
}

pub(crate) fn with_service_annotation(mut svc: Service, key: &str, value: &str) -> Service {
    svc.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(key.into(), value.into());
    svc
}

/// An IPv4 EndpointSlice: ports `(name, port)`, endpoints `(ip, ready)` (`None` = unknown).
pub(crate) fn slice(
    ns: &str,
    svc: &str,
    name: &str,
    ports: &[(&str, i32)],
    endpoints: &[(&str, Option<bool>)],
) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            labels: Some([(SERVICE_NAME_LABEL.to_owned(), svc.to_owned())].into()),
            ..meta(Some(ns), name)
        },
        address_type: "IPv4".into(),
        ports: Some(
            ports
                .iter()
                .map(|(n, p)| EndpointPort {
                    name: (!n.is_empty()).then(|| (*n).into()),
                    port: Some(*p),
                    protocol: Some("TCP".into()),
                    app_protocol: None,
                })
                .collect(),
        ),
        endpoints: endpoints
            .iter()
            .map(|(ip, ready)| Endpoint {
                addresses: vec![(*ip).into()],
                conditions: Some(EndpointConditions {
                    ready: *ready,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
    }
}

pub(crate) fn node(name: &str, provider_id: Option<&str>, excluded: bool) -> Node {
    let mut metadata = meta(None, name);
    if excluded {
        metadata.labels = Some([(super::EXCLUDE_FROM_LB_LABEL.to_owned(), String::new())].into());
    }
    Node {
        metadata,
        spec: Some(NodeSpec {
            provider_id: provider_id.map(Into::into),
            ..Default::default()
        }),
        status: None,
    }
}

pub(crate) fn ingress_class(name: &str, controller: &str, params: Option<&str>) -> IngressClass {
    IngressClass {
        metadata: meta(None, name),
        spec: Some(IngressClassSpec {
            controller: Some(controller.into()),
            parameters: params.map(|p| IngressClassParametersReference {
                api_group: Some("elbv2.k8s.aws".into()),
                kind: "IngressClassParams".into(),
                name: p.into(),
                namespace: None,
                scope: None,
            }),
        }),
    }
}

pub(crate) fn params(name: &str, spec: IngressClassParamsSpec) -> IngressClassParams {
    IngressClassParams {
        metadata: meta(None, name),
        spec,
    }
}

pub(crate) fn namespace(name: &str, labels: &[(&str, &str)]) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..meta(None, name)
        },
        ..Default::default()
    }
}

/// A snapshot with the `alb` IngressClass and the given Ingresses and Services.
pub(crate) fn snapshot(ingresses: Vec<Ingress>, services: Vec<Service>) -> Snapshot {
    Snapshot {
        ingresses,
        services,
        ingress_classes: vec![ingress_class("alb", "ingress.k8s.aws/alb", None)],
        ..Default::default()
    }
}

/// An `ip`-mode ClusterIP Service `name` with port 80 (named `http`) → targetPort 8080 and one
/// ready endpoint.
pub(crate) fn ip_service(snap: &mut Snapshot, ns: &str, name: &str, ip: &str) {
    snap.services.push(with_service_annotation(
        service(
            ns,
            name,
            "ClusterIP",
            &[("http", 80, Some(P::N(8080)), None)],
        ),
        super::annotations::TARGET_TYPE,
        "ip",
    ));
    snap.endpoint_slices.push(slice(
        ns,
        name,
        &format!("{name}-abc"),
        &[("http", 8080)],
        &[(ip, Some(true))],
    ));
}
