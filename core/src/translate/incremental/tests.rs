//! The incremental model against full builds: after every step of sequences of object
//! changes (IngressGroups, NLB Services, instance targets, class changes, Gateways and their
//! routes, classes and ReferenceGrants), the model updated through [`Model::scope`] and
//! [`Model::update_with`] must give exactly what [`build_with_gateways`] gives, status included.
use proptest::prelude::*;

use super::*;
use crate::translate::fixtures::{self, P};
use crate::translate::gateway::{self, GatewayObjects};
use crate::translate::service::annotations::NLB_TARGET_TYPE;
use crate::translate::{annotations as ann, build_with_gateways};

const NAMESPACES: [&str; 2] = ["a", "b"];
const UNIMPLEMENTED: &str = "alb.ingress.kubernetes.io/no-such-annotation";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// `alb` (ours).
    Alb,
    /// `alb2`, whose controller is ours or not ([`World::alb2_ours`]).
    Alb2,
    /// A class that does not exist.
    Missing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ing {
    present: bool,
    class: Class,
    /// `group.name: g<n>`, or an implicit group.
    group: Option<u8>,
    /// Backend `svc<n>` (in the Ingress's namespace).
    backend: u8,
    instance: bool,
    unimplemented: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SvcType {
    Absent,
    ClusterIp,
    NodePort,
    /// An NLB of ours (`loadBalancerClass: service.k8s.aws/nlb`).
    Nlb,
    /// A LoadBalancer of another class (skipped).
    OtherLb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Svc {
    type_: SvcType,
    instance: bool,
    /// Ready endpoints (no slice at 0).
    endpoints: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeState {
    Ok,
    Excluded,
    NoProviderId,
    Absent,
}

/// An HTTPRoute `route<i>` in namespace `a` (even) or `b` (odd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Route {
    present: bool,
    /// Parent Gateway `gw<n>` (namespace `a`), or (2) the ListenerSet `b/ls`.
    gateway: u8,
    /// Backend namespace (index into NAMESPACES) and `svc<k>`.
    backend: (usize, u8),
}

#[derive(Clone, Debug)]
struct World {
    /// `ing<i>` in namespace `a` (even) or `b` (odd).
    ingresses: [Ing; 6],
    /// `svc<k>` in both namespaces: `[namespace][k]`.
    services: [[Svc; 3]; 2],
    nodes: [NodeState; 3],
    alb2_ours: bool,
    /// Gateways `gw0` and `gw1` (namespace `a`, class `gw`) present.
    gateways: [bool; 2],
    /// Whether GatewayClass `gw` names our ALB controller.
    gw_class_ours: bool,
    routes: [Route; 3],
    /// A ReferenceGrant in `a` lets HTTPRoutes of `b` use its Services.
    grant: bool,
    /// The ListenerSet `b/ls` (a listener on port 8080), naming `gw<n>` (`gw0` allows
    /// ListenerSets from every namespace, `gw1` none).
    listener_set: Option<u8>,
}

impl World {
    fn new() -> Self {
        let ing = |i: u8| Ing {
            present: true,
            class: Class::Alb,
            group: (i < 3).then_some(1),
            backend: i % 3,
            instance: i % 2 == 1,
            unimplemented: i == 0,
        };
        let svc = |k: u8| Svc {
            type_: if k == 2 {
                SvcType::Nlb
            } else {
                SvcType::NodePort
            },
            instance: k == 2,
            endpoints: 1 + k,
        };
        Self {
            ingresses: [ing(0), ing(1), ing(2), ing(3), ing(4), ing(5)],
            services: [[svc(0), svc(1), svc(2)], [svc(0), svc(1), svc(2)]],
            nodes: [NodeState::Ok; 3],
            alb2_ours: true,
            gateways: [true, true],
            gw_class_ours: true,
            routes: [
                Route {
                    present: true,
                    gateway: 0,
                    backend: (0, 0),
                },
                Route {
                    present: true,
                    gateway: 0,
                    backend: (0, 1),
                },
                Route {
                    present: true,
                    gateway: 1,
                    backend: (0, 2),
                },
            ],
            grant: false,
            listener_set: Some(0),
        }
    }

    fn route_key(i: usize) -> (&'static str, String) {
        (NAMESPACES[i % 2], format!("route{i}"))
    }

    fn gateway_objects(&self) -> GatewayObjects {
        fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
            serde_json::from_value(v).unwrap()
        }
        let controller = if self.gw_class_ours {
            gateway::ALB_CONTROLLER
        } else {
            "example.com/other"
        };
        let mut objects = GatewayObjects {
            classes: vec![from(serde_json::json!({
                "metadata": {"name": "gw"}, "spec": {"controllerName": controller}
            }))],
            ..GatewayObjects::default()
        };
        for (n, present) in self.gateways.iter().enumerate() {
            if *present {
                let mut gw = serde_json::json!({
                    "metadata": {"name": format!("gw{n}"), "namespace": "a"},
                    "spec": {"gatewayClassName": "gw", "listeners": [{"name": "http",
                        "port": 80, "protocol": "HTTP",
                        "allowedRoutes": {"namespaces": {"from": "All"}}}]}
                });
                if n == 0 {
                    gw["spec"]["allowedListeners"] =
                        serde_json::json!({"namespaces": {"from": "All"}});
                }
                objects.gateways.push(from(gw));
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            if !r.present {
                continue;
            }
            let (ns, name) = Self::route_key(i);
            let parent = if r.gateway < 2 {
                serde_json::json!({"name": format!("gw{}", r.gateway), "namespace": "a"})
            } else {
                serde_json::json!({"kind": "ListenerSet", "name": "ls", "namespace": "b"})
            };
            objects.http_routes.push(from(serde_json::json!({
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "parentRefs": [parent],
                    "hostnames": [format!("{name}.test")],
                    "rules": [{"backendRefs": [{"name": format!("svc{}", r.backend.1),
                        "namespace": NAMESPACES[r.backend.0], "port": 80}]}]
                }
            })));
        }
        if let Some(n) = self.listener_set {
            objects.listener_sets.push(from(serde_json::json!({
                "metadata": {"name": "ls", "namespace": "b"},
                "spec": {"parentRef": {"name": format!("gw{n}"), "namespace": "a"},
                    "listeners": [{"name": "extra", "port": 8080, "protocol": "HTTP",
                        "allowedRoutes": {"namespaces": {"from": "All"}}}]}
            })));
        }
        if self.grant {
            objects.reference_grants.push(from(serde_json::json!({
                "metadata": {"name": "from-b", "namespace": "a"},
                "spec": {"from": [{"group": gateway::GROUP, "kind": "HTTPRoute", "namespace": "b"}],
                    "to": [{"group": "", "kind": "Service"}]}
            })));
        }
        objects
    }

    fn ingress_key(i: usize) -> (&'static str, String) {
        (NAMESPACES[i % 2], format!("ing{i}"))
    }

    fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot {
            ingress_classes: vec![
                fixtures::ingress_class("alb", "ingress.k8s.aws/alb", None),
                fixtures::ingress_class(
                    "alb2",
                    if self.alb2_ours {
                        "ingress.k8s.aws/alb"
                    } else {
                        "example.com/other"
                    },
                    None,
                ),
            ],
            namespaces: NAMESPACES
                .iter()
                .map(|n| fixtures::namespace(n, &[("team", n)]))
                .collect(),
            ..Default::default()
        };
        for (i, ing) in self.ingresses.iter().enumerate() {
            if !ing.present {
                continue;
            }
            let (ns, name) = Self::ingress_key(i);
            let backend = format!("svc{}", ing.backend);
            let host = format!("{name}.test");
            let mut b = fixtures::ingress(ns, &name)
                .class_name(Some(match ing.class {
                    Class::Alb => "alb",
                    Class::Alb2 => "alb2",
                    Class::Missing => "gone",
                }))
                .annotation(
                    ann::TARGET_TYPE,
                    if ing.instance { "instance" } else { "ip" },
                )
                .rule(
                    Some(&host),
                    &[("Prefix", &format!("/{name}"), &backend, P::N(80))],
                );
            if let Some(g) = ing.group {
                b = b.annotation(ann::GROUP_NAME, &format!("g{g}"));
            }
            if ing.unimplemented {
                b = b.annotation(UNIMPLEMENTED, "x");
            }
            snap.ingresses.push(b.build());
        }
        for (n, ns) in NAMESPACES.iter().enumerate() {
            for (k, svc) in self.services[n].iter().enumerate() {
                let name = format!("svc{k}");
                let type_ = match svc.type_ {
                    SvcType::Absent => continue,
                    SvcType::ClusterIp => "ClusterIP",
                    SvcType::NodePort => "NodePort",
                    SvcType::Nlb | SvcType::OtherLb => "LoadBalancer",
                };
                let node_port = i32::try_from(30080 + k).unwrap();
                let mut s = fixtures::service(
                    ns,
                    &name,
                    type_,
                    &[("http", 80, Some(P::N(8080)), Some(node_port))],
                );
                if let Some(spec) = s.spec.as_mut() {
                    spec.load_balancer_class = match svc.type_ {
                        SvcType::Nlb => Some("service.k8s.aws/nlb".into()),
                        SvcType::OtherLb => Some("example.com/lb".into()),
                        _ => None,
                    };
                }
                if svc.type_ == SvcType::Nlb {
                    s = fixtures::with_service_annotation(
                        s,
                        NLB_TARGET_TYPE,
                        if svc.instance { "instance" } else { "ip" },
                    );
                }
                snap.services.push(s);
                if svc.endpoints > 0 {
                    let ips: Vec<String> = (0..svc.endpoints)
                        .map(|e| format!("10.{n}.{k}.{}", e + 1))
                        .collect();
                    let endpoints: Vec<(&str, Option<bool>)> =
                        ips.iter().map(|ip| (ip.as_str(), Some(true))).collect();
                    snap.endpoint_slices.push(fixtures::slice(
                        ns,
                        &name,
                        &format!("{name}-abc"),
                        &[("http", 8080)],
                        &endpoints,
                    ));
                }
            }
        }
        for (i, state) in self.nodes.iter().enumerate() {
            let name = format!("node{i}");
            let provider = format!("aws:///eu-west-1a/i-0{i:03}");
            let node = match state {
                NodeState::Ok => fixtures::node(&name, Some(&provider), false),
                NodeState::Excluded => fixtures::node(&name, Some(&provider), true),
                NodeState::NoProviderId => fixtures::node(&name, None, false),
                NodeState::Absent => continue,
            };
            snap.nodes.push(node);
        }
        snap
    }
}

/// One change to the world, and the object it changes.
#[derive(Clone, Debug)]
enum Step {
    Endpoints {
        ns: usize,
        svc: usize,
        count: u8,
    },
    ServiceType {
        ns: usize,
        svc: usize,
        type_: SvcType,
    },
    ServiceTargetType {
        ns: usize,
        svc: usize,
        instance: bool,
    },
    IngressClass {
        ing: usize,
        class: Class,
    },
    IngressGroup {
        ing: usize,
        group: Option<u8>,
    },
    IngressBackend {
        ing: usize,
        svc: u8,
    },
    IngressPresent {
        ing: usize,
        present: bool,
    },
    Alb2Controller {
        ours: bool,
    },
    Node {
        node: usize,
        state: NodeState,
    },
    GatewayPresent {
        gw: usize,
        present: bool,
    },
    GatewayClassOurs {
        ours: bool,
    },
    RoutePresent {
        route: usize,
        present: bool,
    },
    RouteParent {
        route: usize,
        gateway: u8,
    },
    RouteBackend {
        route: usize,
        ns: usize,
        svc: u8,
    },
    Grant {
        present: bool,
    },
    ListenerSetParent {
        gateway: Option<u8>,
    },
}

fn gw_change(kind: &str, namespace: &str, name: &str) -> Change {
    Change::Gateway {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        parents: Vec::new(),
    }
}

/// A route's change, naming the Gateway it names after the step (or, deleted, named last).
fn route_change(w: &World, route: usize) -> Change {
    let (ns, name) = World::route_key(route);
    Change::Gateway {
        kind: "HTTPRoute".into(),
        namespace: ns.into(),
        name,
        // As the controller's watch gives it: the Gateways named (a ListenerSet is not one).
        parents: if w.routes[route].gateway < 2 {
            vec![("a".into(), format!("gw{}", w.routes[route].gateway))]
        } else {
            Vec::new()
        },
    }
}

impl Step {
    fn apply(&self, w: &mut World) -> Change {
        let service = |ns: usize, svc: usize| Change::Service {
            namespace: NAMESPACES[ns].into(),
            name: format!("svc{svc}"),
        };
        let ingress = |ing: usize| {
            let (namespace, name) = World::ingress_key(ing);
            Change::Ingress {
                namespace: namespace.into(),
                name,
            }
        };
        match *self {
            Self::Endpoints { ns, svc, count } => {
                w.services[ns][svc].endpoints = count;
                Change::EndpointSlices {
                    namespace: NAMESPACES[ns].into(),
                    service: format!("svc{svc}"),
                }
            }
            Self::ServiceType { ns, svc, type_ } => {
                w.services[ns][svc].type_ = type_;
                service(ns, svc)
            }
            Self::ServiceTargetType { ns, svc, instance } => {
                w.services[ns][svc].instance = instance;
                service(ns, svc)
            }
            Self::IngressClass { ing, class } => {
                w.ingresses[ing].class = class;
                ingress(ing)
            }
            Self::IngressGroup { ing, group } => {
                w.ingresses[ing].group = group;
                ingress(ing)
            }
            Self::IngressBackend { ing, svc } => {
                w.ingresses[ing].backend = svc;
                ingress(ing)
            }
            Self::IngressPresent { ing, present } => {
                w.ingresses[ing].present = present;
                ingress(ing)
            }
            Self::Alb2Controller { ours } => {
                w.alb2_ours = ours;
                Change::IngressClass("alb2".into())
            }
            Self::Node { node, state } => {
                w.nodes[node] = state;
                Change::Node(format!("node{node}"))
            }
            Self::GatewayPresent { gw, present } => {
                w.gateways[gw] = present;
                gw_change("Gateway", "a", &format!("gw{gw}"))
            }
            Self::GatewayClassOurs { ours } => {
                w.gw_class_ours = ours;
                gw_change("GatewayClass", "", "gw")
            }
            Self::RoutePresent { route, present } => {
                w.routes[route].present = present;
                route_change(w, route)
            }
            Self::RouteParent { route, gateway } => {
                w.routes[route].gateway = gateway;
                route_change(w, route)
            }
            Self::RouteBackend { route, ns, svc } => {
                w.routes[route].backend = (ns, svc);
                route_change(w, route)
            }
            Self::Grant { present } => {
                w.grant = present;
                gw_change("ReferenceGrant", "a", "from-b")
            }
            Self::ListenerSetParent { gateway } => {
                w.listener_set = gateway;
                gw_change("ListenerSet", "b", "ls")
            }
        }
    }
}

fn svc_type() -> impl Strategy<Value = SvcType> {
    prop_oneof![
        Just(SvcType::Absent),
        Just(SvcType::ClusterIp),
        Just(SvcType::NodePort),
        Just(SvcType::Nlb),
        Just(SvcType::OtherLb),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        // Endpoint changes dominate real clusters, and are the incremental path's business.
        6 => (0..2usize, 0..3usize, 0..4u8)
            .prop_map(|(ns, svc, count)| Step::Endpoints { ns, svc, count }),
        2 => (0..2usize, 0..3usize, svc_type())
            .prop_map(|(ns, svc, type_)| Step::ServiceType { ns, svc, type_ }),
        1 => (0..2usize, 0..3usize, any::<bool>())
            .prop_map(|(ns, svc, instance)| Step::ServiceTargetType { ns, svc, instance }),
        1 => (0..6usize, prop_oneof![Just(Class::Alb), Just(Class::Alb2), Just(Class::Missing)])
            .prop_map(|(ing, class)| Step::IngressClass { ing, class }),
        1 => (0..6usize, proptest::option::of(0..3u8))
            .prop_map(|(ing, group)| Step::IngressGroup { ing, group }),
        1 => (0..6usize, 0..3u8).prop_map(|(ing, svc)| Step::IngressBackend { ing, svc }),
        1 => (0..6usize, any::<bool>())
            .prop_map(|(ing, present)| Step::IngressPresent { ing, present }),
        1 => any::<bool>().prop_map(|ours| Step::Alb2Controller { ours }),
        2 => (
            0..3usize,
            prop_oneof![
                Just(NodeState::Ok),
                Just(NodeState::Excluded),
                Just(NodeState::NoProviderId),
                Just(NodeState::Absent)
            ]
        )
            .prop_map(|(node, state)| Step::Node { node, state }),
        1 => (0..2usize, any::<bool>())
            .prop_map(|(gw, present)| Step::GatewayPresent { gw, present }),
        1 => any::<bool>().prop_map(|ours| Step::GatewayClassOurs { ours }),
        1 => (0..3usize, any::<bool>())
            .prop_map(|(route, present)| Step::RoutePresent { route, present }),
        1 => (0..3usize, 0..3u8).prop_map(|(route, gateway)| Step::RouteParent { route, gateway }),
        1 => proptest::option::of(0..2u8).prop_map(|gateway| Step::ListenerSetParent { gateway }),
        2 => (0..3usize, 0..2usize, 0..3u8)
            .prop_map(|(route, ns, svc)| Step::RouteBackend { route, ns, svc }),
        1 => any::<bool>().prop_map(|present| Step::Grant { present }),
    ]
}

fn config() -> BuildConfig {
    let mut c = fixtures::config();
    c.default_tags = [("team".to_owned(), "x".to_owned())].into();
    c
}

/// Asserts that `got` is what `want` is, field by field.
fn assert_same(got: &BuildOutput, want: &BuildOutput, context: &str) {
    assert_eq!(got.stacks, want.stacks, "stacks after {context}");
    assert_eq!(got.claims, want.claims, "claims after {context}");
    assert_eq!(got.errors, want.errors, "errors after {context}");
    assert_eq!(got.warnings, want.warnings, "warnings after {context}");
    assert_eq!(got.skipped, want.skipped, "skipped after {context}");
}

/// Asserts that every stack of `after` equal to the stack of `before` with its id is the same
/// allocation (what the controller's pointer comparisons rely on), and that a changed one is
/// not.
fn assert_shared(before: &SharedOutput, after: &SharedOutput, context: &str) {
    for now in &after.stacks {
        let Some(old) = before.stacks.iter().find(|s| s.id == now.id) else {
            continue;
        };
        assert_eq!(
            Arc::ptr_eq(old, now),
            **old == **now,
            "stack {} after {context}: shared exactly when unchanged",
            now.id
        );
    }
}

/// Asserts that `updated` tells every change from `before` to `after`: the other stacks are
/// untouched (the same allocations), and unless `rest_changed` nothing else changed.
fn assert_reported(before: &SharedOutput, after: &SharedOutput, updated: &Updated, context: &str) {
    let reported: BTreeSet<&StackId> = updated
        .stacks
        .iter()
        .flat_map(|(b, a)| b.iter().chain(a).map(|s| &s.id))
        .collect();
    for (b, a) in &updated.stacks {
        if let Some(s) = a {
            assert!(
                after.stacks.iter().any(|x| Arc::ptr_eq(x, s)),
                "{} reported but not in the output after {context}",
                s.id
            );
        }
        for s in b.iter().filter(|s| a.as_ref().is_none_or(|a| a.id != s.id)) {
            assert!(
                after.stacks.iter().all(|x| x.id != s.id) || reported.contains(&s.id),
                "{} left its unit but is still in the output after {context}",
                s.id
            );
        }
    }
    let unreported = |out: &SharedOutput| -> Vec<Arc<Stack>> {
        out.stacks
            .iter()
            .filter(|s| !reported.contains(&s.id))
            .cloned()
            .collect()
    };
    let (was, now) = (unreported(before), unreported(after));
    assert_eq!(was.len(), now.len(), "unreported stacks after {context}");
    for (w, n) in was.iter().zip(&now) {
        assert!(
            Arc::ptr_eq(w, n),
            "{} changed unreported after {context}",
            n.id
        );
    }
    if !updated.rest_changed {
        assert_eq!(
            before.claims, after.claims,
            "claims changed unreported after {context}"
        );
        assert_eq!(
            before.errors, after.errors,
            "errors changed unreported after {context}"
        );
        assert_eq!(
            before.warnings, after.warnings,
            "warnings changed unreported after {context}"
        );
        assert_eq!(
            before.skipped, after.skipped,
            "skipped changed unreported after {context}"
        );
    }
}

/// How a step was taken.
#[derive(Debug, Default)]
struct Taken {
    full: usize,
    partial: usize,
    refused: usize,
}

/// Applies `steps` to the initial world, checking the model against a full build after each.
fn run(steps: &[Step]) -> Taken {
    let config = config();
    let mut world = World::new();
    let mut model = Model::full_with(&world.snapshot(), &world.gateway_objects(), &config);
    let mut taken = Taken::default();
    for (n, step) in steps.iter().enumerate() {
        let change = step.apply(&mut world);
        let snapshot = world.snapshot();
        let gateways = world.gateway_objects();
        let before = model.shared_output();
        let rebuilt =
            |previous: &Model| Model::full_after(&snapshot, &gateways, &config, Some(previous));
        match model.scope([&change]) {
            Scope::Full => {
                taken.full += 1;
                model = rebuilt(&model);
            }
            Scope::Partial(partial) => {
                let selected = partial.select_with(&snapshot, &gateways);
                match model.update_with(&selected, &gateways, &partial) {
                    Ok(updated) => {
                        taken.partial += 1;
                        assert_reported(
                            &before,
                            &model.shared_output(),
                            &updated,
                            &format!("step {n} {step:?}"),
                        );
                    }
                    Err(_) => {
                        taken.refused += 1;
                        model = rebuilt(&model);
                    }
                }
            }
        }
        let context = format!("step {n} {step:?}");
        let (want, status) = build_with_gateways(&snapshot, &gateways, &config);
        assert_same(&model.output(), &want, &context);
        assert_eq!(model.gateway_status(), status, "status after {context}");
        assert_shared(&before, &model.shared_output(), &context);
    }
    taken
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_full_build(steps in proptest::collection::vec(step(), 1..25)) {
        run(&steps);
    }
}

/// A fixed sequence through each kind of change, which must take the partial path where the
/// module documentation says it does.
#[test]
fn every_kind_of_change_in_sequence() {
    let steps = [
        Step::Endpoints {
            ns: 0,
            svc: 0,
            count: 3,
        },
        Step::Endpoints {
            ns: 1,
            svc: 2,
            count: 0,
        },
        Step::Node {
            node: 1,
            state: NodeState::NoProviderId,
        },
        Step::ServiceType {
            ns: 0,
            svc: 1,
            type_: SvcType::ClusterIp,
        },
        Step::ServiceType {
            ns: 0,
            svc: 2,
            type_: SvcType::OtherLb,
        },
        Step::ServiceType {
            ns: 0,
            svc: 2,
            type_: SvcType::Nlb,
        },
        Step::ServiceTargetType {
            ns: 1,
            svc: 2,
            instance: false,
        },
        Step::ServiceType {
            ns: 1,
            svc: 0,
            type_: SvcType::Absent,
        },
        Step::Endpoints {
            ns: 1,
            svc: 0,
            count: 2,
        },
        Step::IngressGroup {
            ing: 3,
            group: Some(1),
        },
        Step::IngressClass {
            ing: 0,
            class: Class::Alb2,
        },
        Step::Alb2Controller { ours: false },
        Step::Endpoints {
            ns: 0,
            svc: 0,
            count: 1,
        },
        Step::Node {
            node: 0,
            state: NodeState::Absent,
        },
        Step::IngressPresent {
            ing: 2,
            present: false,
        },
        Step::Endpoints {
            ns: 0,
            svc: 2,
            count: 3,
        },
        // Gateway API objects rebuild the Gateway unit alone.
        Step::RouteBackend {
            route: 0,
            ns: 1,
            svc: 0,
        },
        Step::Grant { present: true },
        Step::Endpoints {
            ns: 1,
            svc: 0,
            count: 3,
        },
        Step::RouteParent {
            route: 1,
            gateway: 1,
        },
        // A route naming the ListenerSet of gw0, the ListenerSet moved to gw1 (which refuses
        // it) and back.
        Step::RouteParent {
            route: 0,
            gateway: 2,
        },
        Step::RouteBackend {
            route: 0,
            ns: 0,
            svc: 2,
        },
        Step::ListenerSetParent { gateway: Some(1) },
        Step::ListenerSetParent { gateway: Some(0) },
        Step::GatewayClassOurs { ours: false },
        Step::GatewayClassOurs { ours: true },
        Step::GatewayPresent {
            gw: 1,
            present: false,
        },
        Step::RoutePresent {
            route: 2,
            present: false,
        },
    ];
    // The world starts with both Gateways built (so their steps change real stacks).
    let world = World::new();
    let (initial, _) = build_with_gateways(&world.snapshot(), &world.gateway_objects(), &config());
    let gateway_stacks = initial
        .stacks
        .iter()
        .filter(|s| s.id.to_string().starts_with("gateway:"))
        .count();
    assert_eq!(gateway_stacks, 2);
    let taken = run(&steps);
    assert_eq!((taken.full, taken.partial, taken.refused), (4, 24, 0));
}

#[test]
fn an_endpoint_change_rebuilds_only_the_units_that_read_its_service() {
    let config = config();
    let world = World::new();
    let snapshot = world.snapshot();
    let model = Model::full(&snapshot, &config);
    // The world's sanity: groups, NLBs, instance targets, warnings, node reads.
    let out = model.output();
    assert_eq!(
        out.stacks
            .iter()
            .map(|s| s.id.to_string())
            .collect::<Vec<_>>(),
        [
            "g1",
            "a/ing4",
            "b/ing3",
            "b/ing5",
            "service:a/svc2",
            "service:b/svc2"
        ]
    );
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert_eq!(
        model.readers(&Read::Nodes),
        [
            &UnitId::Group(StackId::explicit("g1")),
            &UnitId::Group(StackId::implicit("b", "ing3")),
            &UnitId::Group(StackId::implicit("b", "ing5")),
            &UnitId::Service("a".into(), "svc2".into()),
            &UnitId::Service("b".into(), "svc2".into()),
        ]
    );
    // svc0 in `a` backs ing0 (group g1) only; ing4 uses svc1.
    let change = Change::EndpointSlices {
        namespace: "a".into(),
        service: "svc0".into(),
    };
    let Scope::Partial(partial) = model.scope([&change]) else {
        panic!("an endpoint change needs a full rebuild");
    };
    assert_eq!(
        partial,
        Partial {
            units: [UnitId::Group(StackId::explicit("g1"))].into(),
            ingresses: [
                ("a".to_owned(), "ing0".to_owned()),
                ("a".to_owned(), "ing2".to_owned()),
                ("b".to_owned(), "ing1".to_owned()),
            ]
            .into(),
            services: BTreeSet::new(),
            nodes: true,
            gateways: false,
        }
    );
    let selected = partial.select(&snapshot);
    let names = |v: Vec<String>| v.join(",");
    assert_eq!(
        names(
            selected
                .services
                .iter()
                .map(|s| format!("{}/{}", meta_namespace(&s.metadata), meta_name(&s.metadata)))
                .collect()
        ),
        "a/svc0,a/svc2,b/svc1"
    );
    assert_eq!(selected.endpoint_slices.len(), 3);
    // An endpoint change of a Service nobody reads rebuilds nothing.
    let unread = Change::EndpointSlices {
        namespace: "b".into(),
        service: "nothing".into(),
    };
    assert_eq!(model.scope([&unread]), Scope::Partial(Partial::default()));
    // An Ingress change may move Ingresses between groups: everything.
    let moved = Change::Ingress {
        namespace: "a".into(),
        name: "ing0".into(),
    };
    assert_eq!(model.scope([&unread, &moved]), Scope::Full);
}

#[test]
fn a_partial_snapshot_without_the_nodes_a_unit_reads_is_refused() {
    let config = config();
    let snapshot = World::new().snapshot();
    let mut model = Model::full(&snapshot, &config);
    let before = model.output();
    let partial = Partial {
        units: [UnitId::Service("a".into(), "svc2".into())].into(),
        services: [("a".to_owned(), "svc2".to_owned())].into(),
        ..Partial::default()
    };
    assert_eq!(
        model.update(&partial.select(&snapshot), &partial),
        Err(NeedsFull::NodesMissing(UnitId::Service(
            "a".into(),
            "svc2".into()
        )))
    );
    assert_same(&model.output(), &before, "a refused update");
}

/// A change of a route's backend Service rebuilds only the Gateway whose route reads it (not
/// the other Gateway, nor the whole Gateway API part), from the Gateway API objects of the
/// last rebuild; a Gateway API change rebuilds every Gateway.
#[test]
fn a_backend_change_rebuilds_only_the_gateway_that_reads_it() {
    let config = config();
    let world = World::new();
    let mut model = Model::full_with(&world.snapshot(), &world.gateway_objects(), &config);
    let change = Change::Service {
        namespace: "a".into(),
        name: "svc2".into(),
    };
    let Scope::Partial(partial) = model.scope([&change]) else {
        panic!("a Service change needs a full rebuild");
    };
    let gateways: Vec<&UnitId> = partial
        .units
        .iter()
        .filter(|u| matches!(u, UnitId::Gateway(..) | UnitId::Gateways))
        .collect();
    assert_eq!(gateways, [&UnitId::Gateway("a".into(), "gw1".into())]);
    assert!(!partial.gateways);
    // Rebuilt without the Gateway API objects: the model kept them.
    let mut w = world.clone();
    w.services[0][2].type_ = SvcType::Absent;
    let snapshot = w.snapshot();
    let before = model
        .output()
        .stacks
        .into_iter()
        .find(|s| s.id.to_string() == "gateway:a/gw1")
        .unwrap();
    assert_eq!(before.target_groups[0].targets.len(), 3, "one per Node");
    model
        .update_with(
            &partial.select(&snapshot),
            &GatewayObjects::default(),
            &partial,
        )
        .unwrap();
    let (want, status) = build_with_gateways(&snapshot, &w.gateway_objects(), &config);
    assert_same(&model.output(), &want, "the Service change");
    assert_eq!(model.gateway_status(), status);
    assert!(
        model
            .output()
            .stacks
            .iter()
            .find(|s| s.id.to_string() == "gateway:a/gw1")
            .is_none_or(|s| s.target_groups.is_empty()),
        "its backend is gone"
    );

    // route0 moves from gw0 to gw1: both Gateways are rebuilt, nothing else of the Gateway
    // API part; a class change rebuilds it all.
    let route = Change::Gateway {
        kind: "HTTPRoute".into(),
        namespace: "a".into(),
        name: "route0".into(),
        parents: vec![("a".into(), "gw1".into())],
    };
    let Scope::Partial(partial) = model.scope([&route]) else {
        panic!("a route change needs a full rebuild");
    };
    assert!(partial.gateways);
    let gateway_units = |p: &Partial| -> Vec<UnitId> {
        p.units
            .iter()
            .filter(|u| matches!(u, UnitId::Gateway(..) | UnitId::Gateways))
            .cloned()
            .collect()
    };
    assert_eq!(
        gateway_units(&partial),
        [
            UnitId::Gateway("a".into(), "gw0".into()),
            UnitId::Gateway("a".into(), "gw1".into())
        ]
    );
    let mut unrelated = world.gateway_objects();
    unrelated.gateways.push(
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gw9", "namespace": "b"},
            "spec": {"gatewayClassName": "gw", "listeners": []}
        }))
        .unwrap(),
    );
    let model = Model::full_with(&world.snapshot(), &unrelated, &config);
    let Scope::Partial(partial) = model.scope([&route]) else {
        panic!("a route change needs a full rebuild");
    };
    assert!(!partial
        .units
        .contains(&UnitId::Gateway("b".into(), "gw9".into())));
    let class = gw_change("GatewayClass", "", "gw");
    let Scope::Partial(partial) = model.scope([&class]) else {
        panic!("a class change needs a full rebuild");
    };
    assert!(partial.units.contains(&UnitId::Gateways));
    assert!(partial
        .units
        .contains(&UnitId::Gateway("b".into(), "gw9".into())));
}

#[test]
fn route_parents_are_the_gateways_named() {
    let refs: Vec<gateway::ParentReference> = serde_json::from_value(serde_json::json!([
        {"name": "edge"},
        {"name": "edge", "sectionName": "https"},
        {"name": "other", "namespace": "infra"},
        {"name": "set", "kind": "ListenerSet"},
        {"name": "svc", "group": "", "kind": "Service"}
    ]))
    .unwrap();
    assert_eq!(
        route_parents("web", Some(&refs)),
        [
            ("infra".to_owned(), "other".to_owned()),
            ("web".to_owned(), "edge".to_owned())
        ]
    );
    assert!(route_parents("web", None).is_empty());
}
