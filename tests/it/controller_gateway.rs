//! The controller with the Gateway API, end to end against the API server fixture (which
//! serves the Gateway API kinds only while their CRDs are stored) and LocalStack: a cluster
//! without the CRDs gets no request for those kinds; with them, a Gateway becomes an ALB and
//! the status the specification defines is written and kept current.
use std::path::PathBuf;
use std::time::Duration;

use aws_lb_operator::aws::observe::observe;
use aws_lb_operator::aws::route53::list_records;
use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator::controller::{start, Deps, Running};
use aws_lb_operator_core::model::{Scheme, TargetType};
use aws_lb_operator_core::planner::ObservedStack;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};

use crate::apiserver::ApiServer;
use crate::aws_apply::{env_with, Env};
use crate::controller_e2e::{eventually, settings};
use crate::localstack;

const REGION: &str = "ap-southeast-5";

/// Every CRD of the Gateway API kinds `run` reads (the fixture serves a kind while a CRD of
/// its name is stored).
pub(crate) const GATEWAY_CRDS: [&str; 10] = [
    "gatewayclasses.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
    "httproutes.gateway.networking.k8s.io",
    "grpcroutes.gateway.networking.k8s.io",
    "referencegrants.gateway.networking.k8s.io",
    "tcproutes.gateway.networking.k8s.io",
    "udproutes.gateway.networking.k8s.io",
    "tlsroutes.gateway.networking.k8s.io",
    "listenersets.gateway.networking.k8s.io",
    "loadbalancerconfigurations.gateway.k8s.aws",
];

pub(crate) fn install_gateway_crds(server: &ApiServer) {
    for name in GATEWAY_CRDS {
        server.apply_object(json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name}
        }));
    }
}

async fn controller(
    server: &ApiServer,
    env: &Env,
    ip_targets: bool,
    zone: Option<&str>,
) -> Running {
    let mut settings = settings(env, zone);
    if ip_targets {
        settings.build.default_target_type = TargetType::Ip;
    }
    // The test VPC has public subnets only.
    settings.build.default_scheme = Scheme::InternetFacing;
    start(Deps {
        client: server.client(),
        aws: env.clients.clone(),
        settings,
        namespaces: Vec::new(),
        leader: None,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        identity: "gw-e2e".into(),
        shutdown_timeout: Duration::from_secs(30),
    })
    .await
    .unwrap()
}

async fn observed(env: &Env) -> std::collections::BTreeMap<String, ObservedStack> {
    observe(
        &env.clients,
        &env.cluster,
        &env.vpc,
        &Default::default(),
        true,
    )
    .await
    .unwrap()
    .stacks
}

#[tokio::test]
async fn without_the_gateway_api_crds_nothing_of_it_is_requested() {
    let clients = localstack::account_clients(REGION, 5960).await;
    let env = env_with(clients, REGION, "gw-none", 96).await;
    let server = ApiServer::start().await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/seed");
    let snap = load_snapshot(&[dir]).unwrap();
    for c in &snap.ingress_classes {
        server.apply(c);
    }
    for s in &snap.services {
        server.apply(s);
    }
    for e in &snap.endpoint_slices {
        server.apply(e);
    }
    for i in &snap.ingresses {
        server.apply(i);
    }
    let running = controller(&server, &env, false, None).await;
    eventually(60, "the seed Ingress served", || async {
        server
            .get::<Ingress>("shop", "storefront")
            .is_some_and(|i| {
                i.status
                    .and_then(|s| s.load_balancer)
                    .and_then(|l| l.ingress)
                    .is_some_and(|l| !l.is_empty())
            })
    })
    .await;
    running.shutdown().await;
    let calls = server.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.resource == "ingresses" && c.verb == "watch"),
        "the other kinds are watched"
    );
    let gateway_calls: Vec<_> = calls
        .iter()
        .filter(|c| c.group.starts_with("gateway."))
        .collect();
    assert!(gateway_calls.is_empty(), "{gateway_calls:?}");
}

/// Gateway API CRDs installed after `run` started are watched without a restart (the
/// discovery is asked again every `gateway_discovery_period`, 1 s in the test settings): a
/// Gateway created then gets its status, and its ListenerSet too. The Gateway's one listener
/// is TCP, which an ALB class refuses: nothing is created in AWS, the status says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_crds_installed_after_the_start_are_watched() {
    let clients = localstack::account_clients(REGION, 5963).await;
    let env = env_with(clients, REGION, "gw-late", 99).await;
    let server = ApiServer::start().await;
    let running = controller(&server, &env, false, None).await;
    eventually(30, "the controller's watches", || async {
        server
            .calls()
            .iter()
            .any(|c| c.resource == "ingresses" && c.verb == "watch")
    })
    .await;
    assert!(
        !server
            .calls()
            .iter()
            .any(|c| c.group.starts_with("gateway.")),
        "nothing of the Gateway API is requested before its CRDs exist"
    );
    install_gateway_crds(&server);
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"}
    }));
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "late", "namespace": "web", "generation": 1},
        "spec": {"gatewayClassName": "alb",
            "allowedListeners": {"namespaces": {"from": "Same"}},
            "infrastructure": {"parametersRef": {"group": "gateway.k8s.aws",
                "kind": "LoadBalancerConfiguration", "name": "cfg"}},
            "listeners": [{"name": "tcp", "port": 5432, "protocol": "TCP"}]}
    }));
    for name in ["cfg", "unused"] {
        server.apply_object(json!({
            "apiVersion": "gateway.k8s.aws/v1beta1", "kind": "LoadBalancerConfiguration",
            "metadata": {"name": name, "namespace": "web"}, "spec": {"scheme": "internal"}
        }));
    }
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "ListenerSet",
        "metadata": {"name": "more", "namespace": "web", "generation": 1},
        "spec": {"parentRef": {"name": "late"},
            "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}]}
    }));
    eventually(30, "the Gateway's and the ListenerSet's status", || async {
        let gw = server.get_object("gateway.networking.k8s.io/v1", "Gateway", "web", "late");
        let set = server.get_object("gateway.networking.k8s.io/v1", "ListenerSet", "web", "more");
        gw.is_some_and(|g| {
            condition(&g["status"]["conditions"], "Accepted")["reason"] == "ListenersNotValid"
        }) && set.is_some_and(|s| {
            condition(&s["status"]["conditions"], "Accepted")["reason"] == "ParentNotAccepted"
        })
    })
    .await;
    let gw = server
        .get_object("gateway.networking.k8s.io/v1", "Gateway", "web", "late")
        .unwrap();
    assert_eq!(
        condition(&gw["status"]["conditions"], "Accepted")["status"],
        "False"
    );
    assert_eq!(
        gw["status"]["listeners"][0]["conditions"][0]["reason"],
        "UnsupportedProtocol"
    );
    assert_eq!(gw["status"]["attachedListenerSets"], 0);
    // The AWS Load Balancer Controller's finalizers on the class and the configuration the
    // Gateway uses (not on the configuration nothing uses), removed once the Gateway is gone.
    let finalizers = |kind: &str, ns: &str, name: &str| -> Vec<String> {
        let version = if kind == "GatewayClass" {
            "gateway.networking.k8s.io/v1"
        } else {
            "gateway.k8s.aws/v1beta1"
        };
        server
            .get_object(version, kind, ns, name)
            .and_then(|o| serde_json::from_value(o["metadata"]["finalizers"].clone()).ok())
            .unwrap_or_default()
    };
    eventually(30, "the finalizers of what the Gateway uses", || async {
        finalizers("GatewayClass", "", "alb") == ["gateway.k8s.aws/gatewayclass"]
            && finalizers("LoadBalancerConfiguration", "web", "cfg")
                == ["gateway.k8s.aws/loadbalancerconfigurations"]
    })
    .await;
    assert!(finalizers("LoadBalancerConfiguration", "web", "unused").is_empty());
    server.delete_object("gateway.networking.k8s.io/v1", "Gateway", "web", "late");
    eventually(30, "the finalizers released", || async {
        finalizers("GatewayClass", "", "alb").is_empty()
            && finalizers("LoadBalancerConfiguration", "web", "cfg").is_empty()
    })
    .await;
    running.shutdown().await;
}

fn condition<'a>(conditions: &'a Value, type_: &str) -> &'a Value {
    conditions
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

fn route(server: &ApiServer, name: &str) -> Value {
    server
        .get_object("gateway.networking.k8s.io/v1", "HTTPRoute", "web", name)
        .unwrap()
}

/// Our parent entry of a route, and the other entries.
fn ours(route: &Value) -> (Value, Vec<Value>) {
    let parents = route["status"]["parents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (mine, others): (Vec<Value>, Vec<Value>) = parents
        .into_iter()
        .partition(|p| p["controllerName"] == "gateway.k8s.aws/alb");
    (mine.into_iter().next().unwrap_or(Value::Null), others)
}

fn gateway(server: &ApiServer) -> Option<Value> {
    server.get_object("gateway.networking.k8s.io/v1", "Gateway", "web", "edge")
}

fn http_route(name: &str, host: &str, backend: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {"parentRefs": [{"name": "edge"}], "hostnames": [host],
            "rules": [{"backendRefs": [{"name": backend, "port": 80}]}]}
    })
}

fn service(name: &str, ip: &str) -> [Value; 2] {
    [
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "web"},
            "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{name}-1"), "namespace": "web",
                "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}]}),
    ]
}

#[tokio::test]
async fn gateway_status_is_written_and_kept_current() {
    aws_lb_operator::cli::init_logging(aws_lb_operator::cli::LogFormat::Text);
    let clients = localstack::account_clients(REGION, 5961).await;
    let env = env_with(clients, REGION, "gw-e2e", 97).await;
    let server = ApiServer::start().await;
    install_gateway_crds(&server);
    server.apply_object(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}),
    );
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "alb"}, "spec": {"controllerName": "gateway.k8s.aws/alb"}
    }));
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "theirs"}, "spec": {"controllerName": "example.com/other"}
    }));
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "edge", "namespace": "web"},
        "spec": {"gatewayClassName": "alb",
            "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}
    }));
    for o in service("shop", "10.97.0.10") {
        server.apply_object(o);
    }
    // Another controller already wrote its entry on the good route.
    let mut good = http_route("good", "good.example.com", "shop");
    let theirs = json!({"parentRef": {"name": "other-gw"}, "controllerName": "example.com/other",
        "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
    good["status"] = json!({"parents": [theirs.clone()]});
    server.apply_object(good);
    server.apply_object(http_route("broken", "broken.example.com", "missing"));

    let zone = env
        .clients
        .route53
        .create_hosted_zone()
        .name("example.com")
        .caller_reference(localstack::unique("gw-e2e"))
        .send()
        .await
        .unwrap();
    let zone_id = zone
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let running = controller(&server, &env, true, Some(&zone_id)).await;

    // The Gateway: accepted, programmed, with the load balancer's DNS name, and a finalizer.
    eventually(90, "the Gateway programmed", || async {
        gateway(&server).is_some_and(|g| {
            condition(&g["status"]["conditions"], "Programmed")["status"] == "True"
        })
    })
    .await;
    let gw = gateway(&server).unwrap();
    let stacks = observed(&env).await;
    let stack = &stacks["gateway:web/edge"];
    let lb = &stack.load_balancers[0];
    assert_eq!(
        gw["status"]["addresses"],
        json!([{"type": "Hostname", "value": lb.dns_name}])
    );
    assert_eq!(gw["metadata"]["finalizers"], json!(["gateway.k8s.aws/alb"]));
    let accepted = condition(&gw["status"]["conditions"], "Accepted");
    assert_eq!(accepted["status"], "True");
    assert_eq!(accepted["observedGeneration"], 1);
    let listener = &gw["status"]["listeners"][0];
    assert_eq!(listener["name"], "http");
    assert_eq!(listener["attachedRoutes"], 2);
    for (type_, status) in [
        ("Accepted", "True"),
        ("ResolvedRefs", "True"),
        ("Conflicted", "False"),
        ("Programmed", "True"),
    ] {
        assert_eq!(
            condition(&listener["conditions"], type_)["status"],
            status,
            "{type_}: {listener}"
        );
    }
    // Our class is accepted; the other controller's is left alone.
    let class = server
        .get_object("gateway.networking.k8s.io/v1", "GatewayClass", "", "alb")
        .unwrap();
    assert_eq!(
        condition(&class["status"]["conditions"], "Accepted")["status"],
        "True"
    );
    let other_class = server
        .get_object("gateway.networking.k8s.io/v1", "GatewayClass", "", "theirs")
        .unwrap();
    assert!(other_class["status"].is_null(), "{other_class}");

    // Routes: the good one accepted and resolved, next to the other controller's entry; the
    // broken one accepted, with BackendNotFound, and a warning event naming its backend.
    eventually(10, "the route parents written", || async {
        !ours(&route(&server, "broken")).0.is_null() && !ours(&route(&server, "good")).0.is_null()
    })
    .await;
    let (mine, others) = ours(&route(&server, "good"));
    assert_eq!(others, vec![theirs.clone()]);
    assert_eq!(mine["parentRef"], json!({"name": "edge"}));
    assert_eq!(condition(&mine["conditions"], "Accepted")["status"], "True");
    assert_eq!(
        condition(&mine["conditions"], "ResolvedRefs")["status"],
        "True"
    );
    assert_eq!(
        condition(&mine["conditions"], "Accepted")["observedGeneration"],
        1
    );
    let (broken, _) = ours(&route(&server, "broken"));
    let resolved = condition(&broken["conditions"], "ResolvedRefs");
    assert_eq!(resolved["status"], "False", "{broken}");
    assert_eq!(resolved["reason"], "BackendNotFound");
    assert!(
        resolved["message"]
            .as_str()
            .unwrap()
            .contains("service web/missing"),
        "{resolved}"
    );
    eventually(10, "a warning event on the broken route", || async {
        server
            .list_objects("events.k8s.io/v1", "Event")
            .iter()
            .any(|e| {
                e["regarding"]["name"] == "broken"
                    && e["regarding"]["kind"] == "HTTPRoute"
                    && e["reason"] == "FailedBuildModel"
                    && e["type"] == "Warning"
            })
    })
    .await;
    // The sibling is served: its host has a rule forwarding to a target group.
    let rules = &lb.listeners[0].rules;
    let good_rule = rules
        .iter()
        .find(|r| format!("{:?}", r.conditions).contains("good.example.com"))
        .unwrap_or_else(|| panic!("no rule for good.example.com: {rules:?}"));
    assert!(
        format!("{:?}", good_rule.actions).contains("arn:"),
        "{:?}",
        good_rule.actions
    );

    // Both accepted routes' hostnames are published, aliasing the load balancer.
    let records = || async {
        let mut out: Vec<(String, String)> = list_records(&env.clients, &zone_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.record_type == "A")
            .map(|r| (r.name.trim_end_matches('.').to_owned(), r.record_type))
            .collect();
        out.sort();
        out
    };
    eventually(10, "the routes' records", || async {
        records().await
            == [
                ("broken.example.com".to_owned(), "A".to_owned()),
                ("good.example.com".to_owned(), "A".to_owned()),
            ]
    })
    .await;

    // A new endpoint of the good route's backend takes the fast path: one RegisterTargets,
    // nothing else.
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.clients.calls.reset();
    let [_, mut slice] = service("shop", "10.97.0.10");
    slice["endpoints"]
        .as_array_mut()
        .unwrap()
        .push(json!({"addresses": ["10.97.0.12"], "conditions": {"ready": true}}));
    server.apply_object(slice);
    eventually(10, "RegisterTargets", || async {
        env.clients
            .calls
            .mutating_by_operation()
            .contains_key("elbv2.RegisterTargets")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        env.clients.calls.mutating_by_operation(),
        [("elbv2.RegisterTargets".to_owned(), 1)].into()
    );

    // Nothing changes: no status write (the routes' resourceVersions stay).
    let rv = |name: &str| route(&server, name)["metadata"]["resourceVersion"].clone();
    let (good_rv, gw_rv) = (
        rv("good"),
        gateway(&server).unwrap()["metadata"]["resourceVersion"].clone(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rv("good"), good_rv, "an unchanged route is not written");
    assert_eq!(
        gateway(&server).unwrap()["metadata"]["resourceVersion"],
        gw_rv,
        "an unchanged Gateway is not written"
    );

    // The missing backend appears: the broken route resolves, its transition time moves,
    // and the good route's entry is not rewritten.
    for o in service("missing", "10.97.0.11") {
        server.apply_object(o);
    }
    eventually(30, "the broken route resolved", || async {
        let (p, _) = ours(&route(&server, "broken"));
        condition(&p["conditions"], "ResolvedRefs")["status"] == "True"
    })
    .await;
    assert_eq!(rv("good"), good_rv);

    // A new generation of the good route is observed.
    let mut edited = route(&server, "good");
    edited["spec"]["hostnames"] = json!(["good2.example.com"]);
    server.apply_object(edited);
    let generation = route(&server, "good")["metadata"]["generation"].clone();
    assert!(generation.as_i64().unwrap() > 1, "{generation}");
    eventually(30, "the new generation observed", || async {
        let (p, others) = ours(&route(&server, "good"));
        condition(&p["conditions"], "Accepted")["observedGeneration"] == generation
            && others == vec![theirs.clone()]
    })
    .await;
    eventually(30, "the renamed route's record", || async {
        records().await
            == [
                ("broken.example.com".to_owned(), "A".to_owned()),
                ("good2.example.com".to_owned(), "A".to_owned()),
            ]
    })
    .await;

    // Deleting the Gateway deletes its load balancer, then releases the finalizer; our route
    // entries go, the other controller's stays.
    server.delete_object("gateway.networking.k8s.io/v1", "Gateway", "web", "edge");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !records().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the Gateway's records are still there: {:?} (Gateway present: {})",
            records().await,
            gateway(&server).is_some()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually(90, "the Gateway and its load balancer gone", || async {
        gateway(&server).is_none() && !observed(&env).await.contains_key("gateway:web/edge")
    })
    .await;
    eventually(10, "our route entries removed", || async {
        let (p, others) = ours(&route(&server, "good"));
        p.is_null() && others == vec![theirs.clone()]
    })
    .await;
    running.shutdown().await;
}

/// An NLB Gateway (`gateway.k8s.aws/nlb`) in the controller: a TCPRoute holds its TCP
/// listener; the NLB is created, the Gateway programmed with its address and finalized with
/// the NLB Gateway finalizer, and the route's parent written with the NLB controller name.
#[tokio::test]
async fn an_nlb_gateway_is_programmed_with_its_tcp_route() {
    let clients = localstack::account_clients(REGION, 5962).await;
    let env = env_with(clients, REGION, "gw-nlb", 98).await;
    let server = ApiServer::start().await;
    install_gateway_crds(&server);
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": "nlb"}, "spec": {"controllerName": "gateway.k8s.aws/nlb"}
    }));
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "edge", "namespace": "web"},
        "spec": {"gatewayClassName": "nlb",
            "listeners": [{"name": "db", "port": 5432, "protocol": "TCP"}]}
    }));
    for o in service("db", "10.98.0.10") {
        server.apply_object(o);
    }
    server.apply_object(json!({
        "apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TCPRoute",
        "metadata": {"name": "db", "namespace": "web"},
        "spec": {"parentRefs": [{"name": "edge", "sectionName": "db"}],
            "rules": [{"backendRefs": [{"name": "db", "port": 80}]}]}
    }));
    let running = controller(&server, &env, true, None).await;
    eventually(90, "the NLB Gateway programmed", || async {
        gateway(&server).is_some_and(|g| {
            condition(&g["status"]["conditions"], "Programmed")["status"] == "True"
        })
    })
    .await;
    let gw = gateway(&server).unwrap();
    let stacks = observed(&env).await;
    let lb = &stacks["nlb-gateway:web/edge"].load_balancers[0];
    assert_eq!(
        gw["status"]["addresses"],
        json!([{"type": "Hostname", "value": lb.dns_name}])
    );
    assert_eq!(gw["metadata"]["finalizers"], json!(["gateway.k8s.aws/nlb"]));
    assert_eq!(lb.listeners.len(), 1);
    assert_eq!(lb.listeners[0].port, 5432);
    assert_eq!(gw["status"]["listeners"][0]["attachedRoutes"], 1);
    eventually(10, "the TCPRoute's parent", || async {
        server
            .get_object(
                "gateway.networking.k8s.io/v1alpha2",
                "TCPRoute",
                "web",
                "db",
            )
            .is_some_and(|r| {
                let p = &r["status"]["parents"][0];
                p["controllerName"] == "gateway.k8s.aws/nlb"
                    && condition(&p["conditions"], "Accepted")["status"] == "True"
                    && p["parentRef"] == json!({"name": "edge", "sectionName": "db"})
            })
    })
    .await;
    running.shutdown().await;
}
