//! Test builders for LoadBalancer Services and Nodes (struct literals, no ad-hoc JSON).
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSpec, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::translate::fixtures::{meta, P};
use crate::translate::Snapshot;

/// A Service port: `(name, port, protocol, targetPort, nodePort)`.
pub(crate) type Port = (&'static str, i32, &'static str, Option<P>, Option<i32>);

/// LoadBalancer Service builder.
#[derive(Clone, Debug)]
pub(crate) struct Svc(pub(crate) Service);

/// A `type: LoadBalancer` Service with `loadBalancerClass: service.k8s.aws/nlb` and uid
/// `uid-<name>`.
pub(crate) fn lb(ns: &str, name: &str, ports: &[Port]) -> Svc {
    Svc(Service {
        metadata: ObjectMeta {
            uid: Some(format!("uid-{name}")),
            ..meta(Some(ns), name)
        },
        spec: Some(ServiceSpec {
            type_: Some("LoadBalancer".into()),
            load_balancer_class: Some("service.k8s.aws/nlb".into()),
            ports: Some(
                ports
                    .iter()
                    .map(|(pname, port, protocol, target, node_port)| ServicePort {
                        name: (!pname.is_empty()).then(|| (*pname).into()),
                        port: *port,
                        protocol: (!protocol.is_empty()).then(|| (*protocol).into()),
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
    })
}

/// `web` in `shop`: TCP 80 → 8080 on NodePort 30080.
pub(crate) fn web() -> Svc {
    lb(
        "shop",
        "web",
        &[("http", 80, "TCP", Some(P::N(8080)), Some(30080))],
    )
}

impl Svc {
    pub(crate) fn annotation(mut self, key: &str, value: &str) -> Self {
        self.0
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }

    pub(crate) fn spec(mut self, edit: impl FnOnce(&mut ServiceSpec)) -> Self {
        if let Some(spec) = self.0.spec.as_mut() {
            edit(spec);
        }
        self
    }

    pub(crate) fn class(self, class: Option<&str>) -> Self {
        self.spec(|s| s.load_balancer_class = class.map(Into::into))
    }

    pub(crate) fn deleting(mut self) -> Self {
        self.0.metadata.deletion_timestamp = Some(Time(Default::default()));
        self
    }

    pub(crate) fn build(self) -> Service {
        self.0
    }
}

/// A Node with an AWS provider id (`None` = none) and labels.
pub(crate) fn node(name: &str, provider_id: Option<&str>, labels: &[(&str, &str)]) -> Node {
    let mut metadata = meta(None, name);
    if !labels.is_empty() {
        metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
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

/// Two nodes in different zones.
pub(crate) fn two_nodes() -> Vec<Node> {
    vec![
        node("a", Some("aws:///eu-west-1a/i-0aaa"), &[("pool", "edge")]),
        node("b", Some("aws:///eu-west-1b/i-0bbb"), &[("pool", "apps")]),
    ]
}

/// A snapshot of Services and the two nodes.
pub(crate) fn snapshot(services: Vec<Service>) -> Snapshot {
    Snapshot {
        services,
        nodes: two_nodes(),
        ..Default::default()
    }
}
