//! The controller under AWS faults: `controller::start` against the in-process API server
//! fixture, its AWS clients pointed at the fault proxy (`fault_proxy.rs`) in front of
//! LocalStack. Each test runs in a LocalStack account of its own, reads the result back from
//! LocalStack directly (not through the proxy), and shortens the queue's backoff through
//! `Settings::backoff` so that a run takes seconds, not minutes.
//!
//! - transient faults (throttling, 5xx, resets, lost responses) during passes: the controller
//!   converges to exactly the desired state, the retries show in `/metrics`, and a failed pass
//!   is a Warning Event with the error and an error count;
//! - a persistent fault on one stack's CreateLoadBalancer: the stack is retried with growing
//!   pauses within the queue's bounds (measured from the proxy's request log), the other stack
//!   converges, and once the fault is lifted the stack converges without a restart;
//! - the fast path under faults: a failed RegisterTargets is sent again;
//! - a failed address lookup after a load balancer's creation is retried, not ignored.
//!
//! Each test prints its figures (`cargo test --test it controller_faults -- --nocapture`);
//! docs/controller.md quotes them.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_lb_operator::aws::execute::ExecuteOptions;
use aws_lb_operator::aws::observe::observe;
use aws_lb_operator::aws::{AwsClients, AwsOptions};
use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator::controller::metrics::Metrics;
use aws_lb_operator::controller::queue::{Backoff, ErrorClass};
use aws_lb_operator::controller::reconciler::Settings;
use aws_lb_operator::controller::{start, Deps, Running};
use aws_lb_operator::pass::{apply, prepare, PassOptions};
use aws_lb_operator_core::dns::DnsOptions;
use aws_lb_operator_core::model::Stack;
use aws_lb_operator_core::translate::{build, BuildConfig};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};

use crate::apiserver::ApiServer;
use crate::aws_apply::{env_with, Env};
use crate::aws_faults::{clients_via, generated};
use crate::controller_e2e::{eventually, settings};
use crate::fault_proxy::{Fault, FaultProxy, Logged, Ops, Rule};
use crate::localstack;

const REGION: &str = "ap-southeast-5";

/// The test's backoff: 400 ms doubling to 1.6 s (transient) or 3.2 s (other).
const BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(400),
    max_transient: Duration::from_millis(1600),
    max: Duration::from_millis(3200),
};

/// A world: an account with a VPC and a zone, an API server, and the proxy in front of
/// LocalStack.
struct World {
    server: ApiServer,
    env: Env,
    account: String,
    zone_id: String,
    proxy: FaultProxy,
    /// The desired stacks of what was loaded.
    stacks: Vec<Stack>,
    /// Route53 managed (in `zone_id`).
    dns: bool,
}

impl World {
    async fn new(name: &str, n: u32, cidr16: u8, seed: u64, rules: Vec<Rule>) -> Self {
        aws_lb_operator::cli::init_logging(aws_lb_operator::cli::LogFormat::Text);
        let run = u32::from_str_radix(localstack::run_id(), 16).unwrap_or_default();
        let account = format!("{n:04}{run:08}");
        let direct = localstack::account_clients(REGION, n).await;
        let env = env_with(direct, REGION, name, cidr16).await;
        let zone_id = env
            .clients
            .route53
            .create_hosted_zone()
            .name("example.com")
            .caller_reference(localstack::unique(name))
            .send()
            .await
            .unwrap()
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        let proxy = FaultProxy::start(&localstack::endpoint(), seed, rules).await;
        World {
            server: ApiServer::start().await,
            env,
            account,
            zone_id,
            proxy,
            stacks: Vec::new(),
            dns: true,
        }
    }

    /// Loads `ingresses` generated Ingresses (one ALB and one host each) and `services` NLB
    /// Services, with their Services and EndpointSlices, into the API server.
    fn load(&mut self, ingresses: usize, services: usize) {
        let dir = std::env::temp_dir().join(localstack::unique(&format!(
            "ctrlfaults-{}",
            self.env.cluster
        )));
        std::fs::create_dir_all(&dir).unwrap();
        let class = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  \
                     name: alb\nspec:\n  controller: ingress.k8s.aws/alb\n---\n";
        std::fs::write(
            dir.join("objects.yaml"),
            format!("{class}{}", generated(ingresses, services)),
        )
        .unwrap();
        let mut snap = load_snapshot(&[PathBuf::from(&dir)]).unwrap();
        self.server.apply(&Namespace {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("gen".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        // The desired stacks are built from the objects as the API server stored them (their
        // uids name the target groups).
        snap.ingress_classes = snap
            .ingress_classes
            .iter()
            .map(|c| self.server.apply(c))
            .collect();
        snap.services = snap.services.iter().map(|s| self.server.apply(s)).collect();
        snap.endpoint_slices = snap
            .endpoint_slices
            .iter()
            .map(|e| self.server.apply(e))
            .collect();
        snap.ingresses = snap
            .ingresses
            .iter()
            .map(|i| self.server.apply(i))
            .collect();
        self.stacks = build(&snap, &BuildConfig::new(&self.env.cluster)).stacks;
        assert_eq!(self.stacks.len(), ingresses + services);
    }

    fn settings(&self) -> Settings {
        let mut s = settings(&self.env, self.dns.then_some(self.zone_id.as_str()));
        s.backoff = BACKOFF;
        s
    }

    /// Starts the controller with clients through the proxy, at most `attempts` HTTP attempts
    /// per call.
    async fn controller(&self, attempts: u32) -> Running {
        // A short operation timeout keeps the SDK's waits between attempts short (a quarter
        // of it with 3 attempts; the attempt timeout is longer, so it never adds a retry): the
        // queue's backoff is what this suite measures.
        self.controller_timeout(attempts, Duration::from_secs(5))
            .await
    }

    /// [`World::controller`] with another operation timeout: for faults the SDK does not
    /// retry (AccessDenied), where a longer one changes nothing measured but keeps a read that
    /// a loaded LocalStack answers slowly (over 5 s seen with the whole suite running) from
    /// failing a pass the test did not fault.
    async fn controller_timeout(&self, attempts: u32, operation_timeout: Duration) -> Running {
        let opts = AwsOptions {
            max_attempts: attempts,
            operation_timeout,
            attempt_timeout: operation_timeout.max(Duration::from_secs(10)),
            ..localstack::options(REGION)
        };
        let aws = clients_via(&self.proxy.url, &self.account, opts).await;
        start(Deps {
            client: self.server.client(),
            aws,
            settings: self.settings(),
            namespaces: Vec::new(),
            leader: None,
            metrics_addr: "127.0.0.1:0".parse().unwrap(),
            identity: "faults".into(),
            shutdown_timeout: Duration::from_secs(30),
        })
        .await
        .unwrap()
    }

    fn pass_options(&self) -> PassOptions {
        let mut dns = DnsOptions::new(&self.env.cluster);
        dns.zone_id_filter = vec![self.zone_id.clone()];
        PassOptions {
            cluster: self.env.cluster.clone(),
            vpc_id: Some(self.env.vpc.clone()),
            prune: true,
            dns: self.dns.then_some(dns),
            delete: Default::default(),
            hostname_owners: Default::default(),
            external_managed_tags: Vec::new(),
            unrestricted_sg_rules: false,
        }
    }

    /// What a pass of `stacks` would still change, read from LocalStack directly (no proxy):
    /// ELBv2/EC2 changes and Route53 units, as text; empty when AWS is exactly as desired.
    async fn remaining(&self, stacks: &[Stack]) -> Vec<String> {
        let prepared = prepare(&self.env.clients, &self.pass_options(), stacks)
            .await
            .unwrap();
        let mut out: Vec<String> = prepared
            .plan
            .changes
            .iter()
            .map(|c| format!("{} {}", c.operation(), c.resource))
            .collect();
        out.extend(prepared.plan.errors.iter().map(|e| e.message.clone()));
        for u in prepared.dns.iter().flat_map(|d| &d.plan.units) {
            out.push(format!("DNS {} {}", u.name, u.record_type));
        }
        out
    }

    /// Every desired stack has exactly one load balancer and exactly its target groups, no
    /// other stack exists, a prune-apply of the desired stacks makes no mutating call, and
    /// every load balancer and target group in the VPC carries the cluster's tag.
    async fn assert_exact(&self) {
        let c = &self.env.clients;
        let observed = observe(c, &self.env.cluster, &self.env.vpc, &BTreeSet::new(), true)
            .await
            .unwrap()
            .stacks;
        for s in &self.stacks {
            let o = &observed[&s.id.to_string()];
            assert_eq!(o.load_balancers.len(), 1, "one load balancer for {}", s.id);
            let mut got: Vec<&str> = o.target_groups.iter().map(|t| t.name.as_str()).collect();
            got.sort_unstable();
            let mut want: Vec<&str> = s.target_groups.iter().map(|t| t.name.as_str()).collect();
            want.sort_unstable();
            assert_eq!(got, want, "target groups of {}, no duplicate", s.id);
            for tg in &s.target_groups {
                let o = o.target_groups.iter().find(|t| t.name == tg.name).unwrap();
                assert_eq!(o.targets, tg.targets, "targets of {}", tg.name);
            }
        }
        assert_eq!(
            observed.len(),
            self.stacks.len(),
            "no stack we did not ask for"
        );
        let remaining = self.remaining(&self.stacks).await;
        assert!(remaining.is_empty(), "still to change: {remaining:?}");
        c.calls.reset();
        let prepared = prepare(c, &self.pass_options(), &self.stacks)
            .await
            .unwrap();
        assert!(apply(c, &prepared, &ExecuteOptions::default())
            .await
            .is_success());
        assert_eq!(c.calls.mutating_by_operation(), BTreeMap::new());
        let ours = |tags: BTreeMap<String, String>| {
            tags.get("elbv2.k8s.aws/cluster") == Some(&self.env.cluster)
        };
        let lbs = c.elbv2.describe_load_balancers().send().await.unwrap();
        let tgs = c.elbv2.describe_target_groups().send().await.unwrap();
        let arns: Vec<String> = lbs
            .load_balancers()
            .iter()
            .filter(|l| l.vpc_id() == Some(self.env.vpc.as_str()))
            .filter_map(|l| l.load_balancer_arn().map(str::to_owned))
            .chain(
                tgs.target_groups()
                    .iter()
                    .filter(|t| t.vpc_id() == Some(self.env.vpc.as_str()))
                    .filter_map(|t| t.target_group_arn().map(str::to_owned)),
            )
            .collect();
        let want_arns = self.stacks.len()
            + self
                .stacks
                .iter()
                .map(|s| s.target_groups.len())
                .sum::<usize>();
        assert_eq!(arns.len(), want_arns, "no duplicate in the VPC: {arns:?}");
        for arn in arns {
            assert!(ours(elb_tags(c, &arn).await), "untagged {arn}");
        }
    }

    fn ingress(&self, name: &str) -> Option<Ingress> {
        self.server.get::<Ingress>("gen", name)
    }

    /// Warning/Normal events on `name` with `reason`.
    fn events(&self, name: &str, reason: &str) -> Vec<Value> {
        self.server
            .list_objects("events.k8s.io/v1", "Event")
            .into_iter()
            .filter(|e| e["regarding"]["name"] == name && e["reason"] == reason)
            .collect()
    }

    /// The requests of `op` whose body contains `text`.
    fn requests(&self, op: &str, text: &str) -> Vec<Logged> {
        self.proxy
            .log()
            .into_iter()
            .filter(|l| l.op == op && l.body.contains(text))
            .collect()
    }
}

async fn elb_tags(c: &AwsClients, arn: &str) -> BTreeMap<String, String> {
    c.elbv2
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .unwrap()
        .tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn hostname(ing: &Ingress) -> Option<String> {
    ing.status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .hostname
        .clone()
}

fn counter(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> u64 {
    m.counter(name, labels)
}

/// Transient faults on every operation (throttling, 5xx, resets: 20% together) and lost
/// responses on 10% of mutating calls, with 3 HTTP attempts per call: some calls fail after
/// all their attempts, so passes fail and are retried by the queue. The first three
/// CreateTargetGroup requests fail, so at least one pass fails (and says why).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_during_passes_converge_and_show_in_metrics_and_events() {
    let rules = vec![
        Rule::first(
            Ops::Named(vec!["elbv2.CreateTargetGroup".into()]),
            Fault::ServerError,
            3,
        ),
        Rule::new(Ops::All, Fault::Throttle, 0.06),
        Rule::new(Ops::All, Fault::SlowDown, 0.02),
        Rule::new(Ops::All, Fault::ServerError, 0.06),
        Rule::new(Ops::All, Fault::Reset, 0.06),
        Rule::new(Ops::Mutating, Fault::LoseResponse, 0.10),
    ];
    let mut w = World::new("ctrlfaults-transient", 5700, 87, 16, rules).await;
    w.load(3, 1);
    let started = Instant::now();
    let running = w.controller(3).await;
    let m = running.metrics.clone();
    let names: Vec<String> = (0..3).map(|i| format!("app{i}")).collect();
    eventually(120, "every Ingress's hostname", || async {
        names
            .iter()
            .all(|n| w.ingress(n).as_ref().and_then(hostname).is_some())
    })
    .await;
    eventually(60, "AWS exactly as desired", || async {
        w.remaining(&w.stacks).await.is_empty()
    })
    .await;
    let took = started.elapsed();
    w.assert_exact().await;

    // The first CreateTargetGroup failed after its 3 attempts: its stack's pass failed, and
    // says so on the Ingress with the error's text.
    let first = w
        .proxy
        .log()
        .into_iter()
        .find(|l| l.op == "elbv2.CreateTargetGroup")
        .unwrap();
    let tg_name = form_value(&first.body, "Name");
    let stack = w
        .stacks
        .iter()
        .find(|s| s.target_groups.iter().any(|t| t.name == tg_name))
        .unwrap();
    let tg = stack
        .target_groups
        .iter()
        .find(|t| t.name == tg_name)
        .unwrap();
    let ingress = stack.id.to_string().split('/').nth(1).unwrap().to_owned();
    let warnings = w.events(&ingress, "FailedDeployModel");
    let want = format!(
        "elbv2.CreateTargetGroup target group {} ({}): elbv2.CreateTargetGroup failed: \
         InternalFailure: The request processing has failed because of an unknown error. \
         (3 attempts over ",
        tg.name, tg.id
    );
    // The rest is the time the attempts took: `0.4 s)`.
    let exact = |note: &str| {
        note.strip_prefix(want.as_str())
            .and_then(|rest| rest.strip_suffix(" s)"))
            .is_some_and(|secs| secs.parse::<f64>().is_ok())
    };
    assert!(
        warnings
            .iter()
            .any(|e| e["note"].as_str().is_some_and(exact)),
        "no warning {want:?}... in {warnings:#?}"
    );
    assert_eq!(warnings[0]["type"], "Warning");

    // Retries are in the metrics: more HTTP attempts than calls, calls that failed after all
    // their attempts, and each failed pass counted once as an error reconcile and a
    // FailedDeployModel error.
    let calls = counter(&m, "aws_lb_operator_aws_api_calls_total", &[]);
    let attempts = counter(&m, "aws_lb_operator_aws_api_attempts_total", &[]);
    let failed_calls = counter(
        &m,
        "aws_lb_operator_aws_api_calls_total",
        &[("outcome", "error")],
    );
    let errors = counter(
        &m,
        "aws_lb_operator_reconcile_errors_total",
        &[("reason", "FailedDeployModel")],
    );
    let error_passes = counter(
        &m,
        "aws_lb_operator_reconcile_total",
        &[("result", "error")],
    );
    let warning_events = counter(
        &m,
        "aws_lb_operator_events_total",
        &[("type", "Warning"), ("reason", "FailedDeployModel")],
    );
    let faults = w.proxy.injected_counts();
    eprintln!(
        "transient: converged in {took:?}; {calls} calls, {attempts} attempts, {failed_calls} \
         failed calls, {error_passes} failed stack passes, {warning_events} warnings; faults \
         {faults:?}"
    );
    let injected: usize = faults.values().sum();
    assert!(attempts > calls, "{attempts} attempts of {calls} calls");
    assert!(
        attempts - calls <= injected as u64,
        "every retry answers an injected fault: {attempts} attempts, {calls} calls, {injected} faults"
    );
    assert!(failed_calls >= 1);
    assert!(errors >= 1);
    assert_eq!(errors, error_passes, "one error per failed stack pass");
    assert_eq!(
        warning_events, error_passes,
        "one Warning per failed pass (each stack has one Ingress or Service)"
    );
    running.shutdown().await;
}

/// The longest time in `from..to` with no request of `log` in flight.
fn idle(log: &[Logged], from: Instant, to: Instant) -> Duration {
    let mut busy_until = from;
    let mut longest = Duration::ZERO;
    let mut spans: Vec<(Instant, Instant)> = log
        .iter()
        .filter(|l| l.at >= from && l.at <= to)
        .map(|l| (l.at, l.done.unwrap_or(to)))
        .collect();
    spans.sort();
    for (at, done) in spans {
        longest = longest.max(at.saturating_duration_since(busy_until));
        busy_until = busy_until.max(done);
    }
    longest
}

/// The value of `key` in a form-encoded body.
fn form_value(body: &str, key: &str) -> String {
    form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Every CreateLoadBalancer of one stack (`app1`) is denied until it was tried 6 times; `app0`
/// is not. The
/// denied stack is retried with growing pauses, each at least the queue's delay and not much
/// more, never more often than the backoff allows; `app0` converges meanwhile; once the fault
/// is lifted `app1` is tried again within the longest delay and converges, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_fault_backs_off_within_bounds_and_converges_once_lifted() {
    let mut w = World::new("ctrlfaults-persistent", 5701, 88, 17, Vec::new()).await;
    w.load(2, 0);
    let lb_of = |name: &str| {
        w.stacks
            .iter()
            .find(|s| s.id.to_string() == format!("gen/{name}"))
            .unwrap()
            .load_balancer
            .name
            .clone()
    };
    let (good_lb, bad_lb) = (lb_of("app0"), lb_of("app1"));
    w.proxy.set_rules(vec![Rule::new(
        Ops::Named(vec!["elbv2.CreateLoadBalancer".into()]),
        Fault::AccessDenied,
        1.0,
    )
    .when_body_contains(&format!("Name={bad_lb}"))]);
    let running = w.controller_timeout(3, Duration::from_secs(30)).await;
    let m = running.metrics.clone();

    // The good stack converges while the bad one is denied.
    eventually(60, "app0's hostname", || async {
        w.ingress("app0").as_ref().and_then(hostname).is_some()
    })
    .await;
    eventually(60, "app1's sixth denied CreateLoadBalancer", || async {
        w.requests("elbv2.CreateLoadBalancer", &bad_lb).len() >= 6
    })
    .await;
    w.proxy.set_rules(Vec::new());
    let lifted = Instant::now();
    let window = lifted - w.requests("elbv2.CreateLoadBalancer", &bad_lb)[0].at;
    eventually(30, "app1's SuccessfullyReconciled", || async {
        !w.events("app1", "SuccessfullyReconciled").is_empty()
    })
    .await;
    let converged = lifted.elapsed();
    assert!(w.ingress("app1").as_ref().and_then(hostname).is_some());

    let tries = w.requests("elbv2.CreateLoadBalancer", &bad_lb);
    let denied: Vec<Instant> = tries
        .iter()
        .filter(|l| l.fault == Some(Fault::AccessDenied))
        .map(|l| l.at)
        .collect();
    let gaps: Vec<Duration> = denied.windows(2).map(|p| p[1] - p[0]).collect();
    // The queue's pause after each failed pass: the longest time between two tries in which
    // the controller had no AWS request in flight (all of them go through the proxy); the
    // pass's own reads and writes, however slow LocalStack answers, are not part of it.
    let log = w.proxy.log();
    let pauses: Vec<Duration> = denied.windows(2).map(|p| idle(&log, p[0], p[1])).collect();
    let retried = tries
        .iter()
        .find(|l| l.fault.is_none())
        .map(|l| l.at.saturating_duration_since(lifted))
        .unwrap();
    eprintln!(
        "persistent: {} denied tries in {window:?}, {gaps:?} apart, pauses between passes \
         {pauses:?}; tried again {retried:?} and converged {converged:?} after the fault was \
         lifted",
        denied.len()
    );
    // Each pause is at least the queue's delay for that failure, and at most that plus the
    // time to report the failure and start the next pass (Events, a rebuild: well under a
    // second, more on a loaded machine).
    let slack = Duration::from_millis(2000);
    for (i, pause) in pauses.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap();
        let delay = BACKOFF.delay(ErrorClass::Other, n).unwrap();
        assert!(
            *pause >= delay && *pause <= delay + slack,
            "pause {n}: {pause:?}, the queue's delay {delay:?}; all: {pauses:?}"
        );
    }
    // The pauses grow until the cap.
    assert!(pauses.len() >= 4, "{pauses:?}");
    assert!(pauses[3] > pauses[0] && pauses[3] > pauses[1], "{pauses:?}");
    // Never more often than the backoff allows: the tries that fit in the window with no pass
    // time at all.
    let mut most = 1;
    let mut at = Duration::ZERO;
    while at <= window {
        at += BACKOFF.delay(ErrorClass::Other, most).unwrap();
        most += 1;
    }
    assert!(
        denied.len() <= usize::try_from(most).unwrap(),
        "{} tries, at most {most}",
        denied.len()
    );
    // Lifted: tried again within the longest pause and the next pass's reads.
    assert!(
        retried <= BACKOFF.max + Duration::from_secs(3),
        "{retried:?}"
    );

    // Nothing else happened: one more CreateLoadBalancer of app1 (the one that succeeded), one
    // of app0, a Warning and an error per denied try, the same exact text each time.
    assert_eq!(tries.len(), denied.len() + 1, "{tries:?}");
    assert_eq!(w.requests("elbv2.CreateLoadBalancer", &good_lb).len(), 1);
    let n = denied.len() as u64;
    assert_eq!(
        counter(
            &m,
            "aws_lb_operator_reconcile_errors_total",
            &[("reason", "FailedDeployModel")]
        ),
        n
    );
    assert_eq!(
        counter(
            &m,
            "aws_lb_operator_events_total",
            &[("type", "Warning"), ("reason", "FailedDeployModel")]
        ),
        n
    );
    let warnings = w.events("app1", "FailedDeployModel");
    let want = format!(
        "elbv2.CreateLoadBalancer load balancer {bad_lb}: elbv2.CreateLoadBalancer failed: \
         AccessDenied: User is not authorized to perform this operation (fault proxy)"
    );
    assert!(
        warnings.iter().all(|e| e["note"] == want.as_str()) && !warnings.is_empty(),
        "want {want:?}: {warnings:#?}"
    );
    assert!(w.events("app0", "FailedDeployModel").is_empty());
    w.assert_exact().await;
    running.shutdown().await;
}

/// After convergence a new ready endpoint goes out on the fast path while every
/// RegisterTargets fails (500, on all three attempts of each call): the fast path's failure is
/// counted and hands the stack to a full pass at once; that pass fails too and is reported
/// (Warning, error count, backoff); once the fault is lifted the target is registered by the
/// next full pass, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fast_path_register_is_retried_by_full_passes_until_sent() {
    let mut w = World::new("ctrlfaults-fast", 5702, 89, 18, Vec::new()).await;
    w.load(1, 0);
    let running = w.controller(3).await;
    let m = running.metrics.clone();
    eventually(60, "app0's hostname", || async {
        w.ingress("app0").as_ref().and_then(hostname).is_some()
    })
    .await;
    eventually(30, "AWS exactly as desired", || async {
        w.remaining(&w.stacks).await.is_empty()
    })
    .await;
    let registers = |w: &World| w.requests("elbv2.RegisterTargets", "");
    let before = registers(&w).len();
    let full_before = counter(
        &m,
        "aws_lb_operator_target_changes_total",
        &[("operation", "register"), ("path", "full")],
    );
    w.proxy.set_rules(vec![Rule::new(
        Ops::Named(vec!["elbv2.RegisterTargets".into()]),
        Fault::ServerError,
        1.0,
    )]);
    // A new ready endpoint of app0-api (target port 8080).
    let slice = w.server.get::<EndpointSlice>("gen", "app0-api-x").unwrap();
    let mut v = serde_json::to_value(&slice).unwrap();
    v["endpoints"].as_array_mut().unwrap().push(
        json!({"addresses": ["10.0.7.7"], "conditions": {"ready": true, "serving": true, "terminating": false}}),
    );
    w.server.apply_object(v);
    eventually(
        30,
        "a full pass's RegisterTargets to fail after the fast path's",
        || async { !w.events("app0", "FailedDeployModel").is_empty() },
    )
    .await;
    let fast_failures = counter(
        &m,
        "aws_lb_operator_reconcile_errors_total",
        &[("kind", "ingress"), ("reason", "FailedRegisterTargets")],
    );
    assert_eq!(fast_failures, 1, "the fast path failed once");
    let failed_requests = registers(&w).len() - before;
    assert!(
        failed_requests >= 6,
        "3 attempts of the fast path's call, 3 of the pass's"
    );
    let mut want_stacks = w.stacks.clone();
    for tg in &mut want_stacks[0].target_groups {
        if tg.targets.iter().any(|t| t.port == 8080) {
            tg.targets.push(aws_lb_operator_core::model::TargetSpec {
                id: "10.0.7.7".into(),
                port: 8080,
            });
            tg.targets.sort();
        }
    }
    let tg = want_stacks[0]
        .target_groups
        .iter()
        .find(|t| t.targets.iter().any(|t| t.id == "10.0.7.7"))
        .unwrap();
    let warning = &w.events("app0", "FailedDeployModel")[0];
    let want = format!(
        "elbv2.RegisterTargets targets of {}: elbv2.RegisterTargets failed: InternalFailure: The \
         request processing has failed because of an unknown error. (3 attempts over ",
        tg.name
    );
    assert!(
        warning["note"]
            .as_str()
            .and_then(|n| n.strip_prefix(want.as_str()))
            .and_then(|rest| rest.strip_suffix(" s)"))
            .is_some_and(|secs| secs.parse::<f64>().is_ok()),
        "want {want:?}...: {warning:#?}"
    );
    w.proxy.set_rules(Vec::new());
    eventually(30, "the new target registered", || async {
        w.remaining(&want_stacks).await.is_empty()
    })
    .await;
    let sent = registers(&w);
    let failed = sent
        .iter()
        .skip(before)
        .filter(|l| l.fault == Some(Fault::ServerError))
        .count();
    eprintln!(
        "fast path: {} RegisterTargets requests, {failed} failed",
        sent.len() - before
    );
    assert_eq!(
        sent.iter()
            .skip(before)
            .filter(|l| l.fault.is_none())
            .count(),
        1,
        "sent once the fault is lifted, once"
    );
    eventually(10, "the full pass's register counted", || async {
        counter(
            &m,
            "aws_lb_operator_target_changes_total",
            &[("operation", "register"), ("path", "full")],
        ) == full_before + 1
    })
    .await;
    assert_eq!(
        counter(
            &m,
            "aws_lb_operator_reconcile_errors_total",
            &[("kind", "ingress"), ("reason", "FailedRegisterTargets")],
        ),
        1,
        "later failures were full passes'"
    );
    running.shutdown().await;
}

/// Without DNS management (so no record waits for the address), the pass that creates a load
/// balancer then looks up its address (DescribeLoadBalancers by name); that lookup is denied. The stack is not counted in sync (it has no status address
/// yet): a Warning says why and it is retried after its backoff, when the next pass reads the
/// address from its observation. (Before, the failure was ignored, the pass counted as a
/// success, and the status waited for the next resync, 10 minutes by default.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_address_lookup_after_a_create_is_retried_until_the_status_is_written() {
    let mut w = World::new("ctrlfaults-address", 5703, 90, 19, Vec::new()).await;
    w.load(1, 0);
    let lb = w.stacks[0].load_balancer.name.clone();
    w.proxy.set_rules(vec![Rule::new(
        Ops::Named(vec!["elbv2.DescribeLoadBalancers".into()]),
        Fault::AccessDenied,
        1.0,
    )
    .when_body_contains(&format!("Names.member.1={lb}"))]);
    w.dns = false;
    let running = w.controller(3).await;
    let m = running.metrics.clone();
    eventually(60, "the Warning", || async {
        !w.events("app0", "FailedDeployModel").is_empty()
    })
    .await;
    let warned = Instant::now();
    let warning = &w.events("app0", "FailedDeployModel")[0];
    assert_eq!(
        warning["note"],
        format!(
            "reading the address of load balancer {lb} failed: elbv2.DescribeLoadBalancers \
             failed: AccessDenied: User is not authorized to perform this operation (fault proxy)"
        )
    );
    eventually(10, "app0's hostname", || async {
        w.ingress("app0").as_ref().and_then(hostname).is_some()
    })
    .await;
    eprintln!(
        "address: the status was written {:?} after the Warning",
        warned.elapsed()
    );
    let denied = w.requests(
        "elbv2.DescribeLoadBalancers",
        &format!("Names.member.1={lb}"),
    );
    assert_eq!(denied.len(), 1, "looked up once: the retry observed it");
    assert_eq!(w.requests("elbv2.CreateLoadBalancer", &lb).len(), 1);
    assert_eq!(
        counter(
            &m,
            "aws_lb_operator_reconcile_errors_total",
            &[("kind", "ingress"), ("reason", "FailedDeployModel")]
        ),
        1
    );
    eventually(10, "the success event", || async {
        !w.events("app0", "SuccessfullyReconciled").is_empty()
    })
    .await;
    w.assert_exact().await;
    running.shutdown().await;
}
