//! Route53 through the pass on LocalStack: records for exact and wildcard hosts with
//! TXT ownership, no change calls when nothing changed, foreign records untouched, ExternalDNS
//! records with our owner adopted without churn, upsert-only never deletes, deleting a stack
//! removes exactly its records (before its load balancer), and 1,500 hostnames in the fewest
//! change calls the limits allow.
//!
//! Route53 in LocalStack is global per account, so every test works in an account of its own
//! (and its own zone), which also keeps the call counts exact.
use std::collections::BTreeMap;

use aws_lb_operator::aws::route53::{apply_units, list_records, DnsOutcome};
use aws_lb_operator::pass::{apply, prepare, PassOptions, PassReport, PreparedPass};
use aws_lb_operator_core::dns::registry::heritage_value;
use aws_lb_operator_core::dns::{
    self, BatchLimits, DesiredHost, DnsOptions, DnsPolicy, RecordSet, TYPE_TXT,
};
use aws_lb_operator_core::model::Stack;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use crate::aws_apply::{env_with, example, Env};
use crate::localstack;

const REGION: &str = "ap-south-2";

struct Dns {
    env: Env,
    zone_id: String,
    zone: String,
}

impl Dns {
    async fn new(name: &str, cidr16: u8) -> Self {
        let clients = localstack::account_clients(REGION, 5400 + u32::from(cidr16)).await;
        let env = env_with(clients, REGION, name, cidr16).await;
        let zone = format!("{}.dns-test.internal", localstack::unique(name));
        let out = env
            .clients
            .route53
            .create_hosted_zone()
            .name(&zone)
            .caller_reference(localstack::unique(&format!("{name}-ref")))
            .send()
            .await
            .unwrap();
        let zone_id = out
            .hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        Self { env, zone_id, zone }
    }

    fn host(&self, label: &str) -> String {
        format!("{label}.{}", self.zone)
    }

    fn options(&self, policy: DnsPolicy) -> DnsOptions {
        let mut o = DnsOptions::new(&self.env.cluster);
        o.policy = policy;
        o.zone_id_filter = vec![self.zone_id.clone()];
        o
    }

    /// The seed ALB with `labels` as its hostnames.
    fn stacks(&self, labels: &[&str]) -> Vec<Stack> {
        let mut stacks = example("seed", &self.env.cluster);
        stacks[0].hostnames = labels
            .iter()
            .map(|l| DesiredHost {
                hostname: self.host(l),
                resource: "ingress/shop/storefront".into(),
            })
            .collect();
        stacks
    }

    async fn prepare(&self, stacks: &[Stack], prune: bool, policy: DnsPolicy) -> PreparedPass {
        let opts = PassOptions {
            cluster: self.env.cluster.clone(),
            vpc_id: Some(self.env.vpc.clone()),
            prune,
            dns: Some(self.options(policy)),
            delete: Default::default(),
            hostname_owners: Default::default(),
            external_managed_tags: Vec::new(),
            unrestricted_sg_rules: false,
        };
        prepare(&self.env.clients, &opts, stacks).await.unwrap()
    }

    /// One pass; every change must succeed. Returns the prepared pass and the report.
    async fn apply(
        &self,
        stacks: &[Stack],
        prune: bool,
        policy: DnsPolicy,
    ) -> (PreparedPass, PassReport) {
        self.env.clients.calls.reset();
        let prepared = self.prepare(stacks, prune, policy).await;
        let report = apply(&self.env.clients, &prepared, &Default::default()).await;
        assert!(
            report.is_success(),
            "{:?} {:?}",
            report.elb.outcomes,
            report.dns
        );
        (prepared, report)
    }

    fn change_calls(&self) -> u64 {
        self.env
            .clients
            .calls
            .by_operation()
            .get("route53.ChangeResourceRecordSets")
            .copied()
            .unwrap_or(0)
    }

    /// Every record of the zone except SOA and NS, by (name, type).
    async fn records(&self) -> BTreeMap<(String, String), RecordSet> {
        list_records(&self.env.clients, &self.zone_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.record_type != "SOA" && r.record_type != "NS")
            .map(|r| ((r.name.clone(), r.record_type.clone()), r))
            .collect()
    }

    async fn write(&self, records: Vec<ResourceRecordSet>) {
        let changes = records
            .into_iter()
            .map(|r| {
                Change::builder()
                    .action(ChangeAction::Create)
                    .resource_record_set(r)
                    .build()
                    .unwrap()
            })
            .collect();
        self.env
            .clients
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .set_changes(Some(changes))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }

    async fn lb_dns(&self) -> (String, String) {
        let observed = self
            .prepare(&self.stacks(&[]), false, DnsPolicy::Sync)
            .await;
        let lb = &observed
            .observation
            .stacks
            .values()
            .next()
            .unwrap()
            .load_balancers[0];
        (lb.dns_name.clone(), lb.canonical_hosted_zone_id.clone())
    }
}

fn alias_record(name: &str, rtype: RrType, dns_name: &str, zone: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .alias_target(
            AliasTarget::builder()
                .dns_name(dns_name)
                .hosted_zone_id(zone)
                .evaluate_target_health(true)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn txt_record(name: &str, value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Txt)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value(format!("\"{value}\""))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn key(name: &str, rtype: &str) -> (String, String) {
    (name.to_owned(), rtype.to_owned())
}

#[tokio::test]
async fn exact_and_wildcard_hosts_get_alias_and_txt_and_a_reapply_changes_nothing() {
    let d = Dns::new("dns-basic", 60).await;
    let stacks = d.stacks(&["www", "*"]);
    let (_, report) = d.apply(&stacks, false, DnsPolicy::Sync).await;
    assert_eq!(report.dns.len(), 2);
    assert_eq!(
        d.change_calls(),
        1,
        "both records and their TXTs in one call"
    );
    let (lb_dns, lb_zone) = d.lb_dns().await;
    let records = d.records().await;
    for label in ["www", "*"] {
        let name = d.host(label);
        let a = &records[&key(&name, "A")];
        let alias = a.alias.as_ref().unwrap();
        assert_eq!(alias.dns_name, dns::canonical_name(&lb_dns));
        assert_eq!(
            alias.hosted_zone_id, lb_zone,
            "the LB's CanonicalHostedZoneId"
        );
        let txt = &records[&key(&format!("a-{name}"), TYPE_TXT)];
        assert_eq!(
            txt.values,
            vec![format!(
                "\"{}\"",
                heritage_value(&d.env.cluster, "ingress/shop/storefront")
            )]
        );
    }
    assert_eq!(records.len(), 4, "{records:?}");

    let (prepared, _) = d.apply(&stacks, false, DnsPolicy::Sync).await;
    assert!(prepared.dns.unwrap().plan.units.is_empty());
    assert_eq!(d.change_calls(), 0);
    assert_eq!(d.env.clients.calls.mutating_calls(), 0);
}

#[tokio::test]
async fn foreign_records_are_never_changed_or_deleted_and_are_reported() {
    let d = Dns::new("dns-foreign", 61).await;
    d.apply(&d.stacks(&[]), false, DnsPolicy::Sync).await; // the ALB
    let other = d.host("other");
    let bare = d.host("bare");
    d.write(vec![
        alias_record(&other, RrType::A, "elsewhere.example.net", "Z2FDTNDATAQYW2"),
        txt_record(
            &format!("a-{other}"),
            &heritage_value("someone-else", "ingress/x/y"),
        ),
        alias_record(&bare, RrType::A, "elsewhere.example.net", "Z2FDTNDATAQYW2"),
    ])
    .await;
    let before = d.records().await;
    let stacks = d.stacks(&["other", "bare", "mine"]);
    let (prepared, _) = d.apply(&stacks, false, DnsPolicy::Sync).await;
    let plan = prepared.dns.unwrap().plan;
    let conflicted: Vec<&str> = plan.conflicts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(conflicted, vec![bare.as_str(), other.as_str()]);
    assert!(plan
        .conflicts
        .iter()
        .all(|c| c.resource == "ingress/shop/storefront"));
    let after = d.records().await;
    for k in before.keys() {
        assert_eq!(before[k], after[k], "{k:?} untouched");
    }
    assert!(after.contains_key(&key(&d.host("mine"), "A")));
    // Deleting the stack (prune) removes only ours.
    d.apply(&[], true, DnsPolicy::Sync).await;
    let left = d.records().await;
    assert_eq!(left, before, "exactly the foreign records remain");
}

#[tokio::test]
async fn external_dns_records_with_our_owner_are_adopted_and_legacy_txts_rewritten_once() {
    let d = Dns::new("dns-adopt", 62).await;
    d.apply(&d.stacks(&[]), false, DnsPolicy::Sync).await;
    let (lb_dns, lb_zone) = d.lb_dns().await;
    let www = d.host("www");
    let api = d.host("api");
    let owner = d.env.cluster.clone();
    // As ExternalDNS v0.22 writes them (a- and aaaa- TXTs, an AAAA alias next to the A), and
    // as older versions did (cname- TXT for an alias A), with `dualstack.` alias names.
    d.write(vec![
        alias_record(&www, RrType::A, &format!("dualstack.{lb_dns}"), &lb_zone),
        txt_record(
            &format!("a-{www}"),
            &heritage_value(&owner, "ingress/shop/storefront"),
        ),
        alias_record(&www, RrType::Aaaa, &format!("dualstack.{lb_dns}"), &lb_zone),
        txt_record(
            &format!("aaaa-{www}"),
            &heritage_value(&owner, "ingress/shop/storefront"),
        ),
        alias_record(&api, RrType::A, &lb_dns, &lb_zone),
        txt_record(
            &format!("cname-{api}"),
            &heritage_value(&owner, "ingress/shop/storefront"),
        ),
    ])
    .await;
    let before = d.records().await;
    let (prepared, _) = d
        .apply(&d.stacks(&["www", "api"]), false, DnsPolicy::Sync)
        .await;
    let plan = prepared.dns.unwrap().plan;
    assert!(plan.conflicts.is_empty(), "{plan:?}");
    // The record owned by a legacy cname- TXT only gets its current-format a- TXT, once (as
    // ExternalDNS's registry migration writes it); nothing else changes.
    let written: Vec<(String, String)> = plan
        .units
        .iter()
        .flat_map(|u| &u.changes)
        .map(|c| (c.record.record_type.clone(), c.record.name.clone()))
        .collect();
    assert_eq!(written, [("TXT".to_owned(), format!("a-{api}"))]);
    assert_eq!(d.change_calls(), 1);
    let mut after = d.records().await;
    let migrated = after.remove(&key(&format!("a-{api}"), "TXT"));
    assert!(migrated.is_some(), "the a- TXT exists");
    assert_eq!(
        after, before,
        "the rest, the cname- TXT included, is as it was"
    );
    d.apply(&d.stacks(&["www", "api"]), false, DnsPolicy::Sync)
        .await;
    assert_eq!(d.change_calls(), 0, "written once");
}

/// What ExternalDNS writes with `--aws-prefer-cname` (a CNAME and its cname- TXT, plus the
/// pre-v0.12 untyped TXT), under our owner id: replaced by the alias record and its a- TXT in
/// one change call, which Route53 accepts because the CNAME goes in the same batch.
#[tokio::test]
async fn an_owned_cname_is_replaced_by_the_alias_in_one_change_call() {
    let d = Dns::new("dns-cname", 67).await;
    d.apply(&d.stacks(&[]), false, DnsPolicy::Sync).await;
    let (lb_dns, lb_zone) = d.lb_dns().await;
    let www = d.host("www");
    let owner = d.env.cluster.clone();
    d.write(vec![
        ResourceRecordSet::builder()
            .name(&www)
            .r#type(RrType::Cname)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value(&lb_dns).build().unwrap())
            .build()
            .unwrap(),
        txt_record(
            &format!("cname-{www}"),
            &heritage_value(&owner, "ingress/shop/storefront"),
        ),
        txt_record(&www, &heritage_value(&owner, "ingress/shop/storefront")),
    ])
    .await;
    let (prepared, _) = d.apply(&d.stacks(&["www"]), false, DnsPolicy::Sync).await;
    let plan = prepared.dns.unwrap().plan;
    assert!(plan.conflicts.is_empty(), "{plan:?}");
    assert_eq!(d.change_calls(), 1, "one change batch");
    let records = d.records().await;
    let names: Vec<&(String, String)> = records.keys().collect();
    assert_eq!(
        names,
        [&key(&format!("a-{www}"), TYPE_TXT), &key(&www, "A")],
        "the CNAME and its TXTs are gone"
    );
    let alias = records[&key(&www, "A")].alias.clone().unwrap();
    assert_eq!(alias.dns_name, dns::canonical_name(&lb_dns));
    assert_eq!(alias.hosted_zone_id, lb_zone);
    // Converged: the next pass changes nothing.
    let (prepared, _) = d.apply(&d.stacks(&["www"]), false, DnsPolicy::Sync).await;
    assert!(prepared.dns.unwrap().plan.units.is_empty());
    assert_eq!(d.change_calls(), 0);
}

#[tokio::test]
async fn upsert_only_never_deletes_and_sync_then_removes_exactly_the_dropped_name() {
    let d = Dns::new("dns-policy", 63).await;
    d.apply(&d.stacks(&["keep", "drop"]), false, DnsPolicy::Sync)
        .await;
    let full = d.records().await;
    assert_eq!(full.len(), 4);
    for policy in [DnsPolicy::UpsertOnly, DnsPolicy::CreateOnly] {
        d.apply(&d.stacks(&["keep"]), false, policy).await;
        assert_eq!(d.change_calls(), 0, "{policy:?}");
        assert_eq!(d.records().await, full, "{policy:?}");
    }
    d.apply(&d.stacks(&["keep"]), false, DnsPolicy::Sync).await;
    assert_eq!(d.change_calls(), 1);
    let left: Vec<(String, String)> = d.records().await.into_keys().collect();
    assert_eq!(
        left,
        vec![
            key(&format!("a-{}", d.host("keep")), "TXT"),
            key(&d.host("keep"), "A"),
        ]
    );
}

#[tokio::test]
async fn deleting_a_stack_removes_its_records_before_its_load_balancer() {
    let d = Dns::new("dns-delete", 64).await;
    d.apply(&d.stacks(&["www", "*"]), false, DnsPolicy::Sync)
        .await;
    assert_eq!(d.records().await.len(), 4);
    let (_, report) = d.apply(&[], true, DnsPolicy::Sync).await;
    assert_eq!(report.dns.len(), 2);
    assert!(d.records().await.is_empty());
    let order = d.env.clients.calls.recent_mutations();
    let dns_at = order
        .iter()
        .position(|o| o == "route53.ChangeResourceRecordSets")
        .unwrap();
    let lb_at = order
        .iter()
        .position(|o| o == "elbv2.DeleteLoadBalancer")
        .unwrap();
    assert!(dns_at < lb_at, "{order:?}");
}

#[tokio::test]
async fn a_rejected_record_fails_alone_and_the_rest_of_its_batch_lands() {
    let d = Dns::new("dns-reject", 65).await;
    d.apply(&d.stacks(&[]), false, DnsPolicy::Sync).await;
    let prepared = d
        .prepare(
            &d.stacks(&["a", "b", "c", "d", "e"]),
            false,
            DnsPolicy::Sync,
        )
        .await;
    let units = &prepared.dns.as_ref().unwrap().plan.units;
    assert_eq!(units.len(), 5);
    // Someone creates exactly our "c" record between planning and applying: our CREATE of it
    // is rejected ("already exists").
    let mut theirs = units
        .iter()
        .find(|u| u.name == d.host("c"))
        .unwrap()
        .clone();
    theirs.changes.truncate(1);
    let out = apply_units(&d.env.clients, &[theirs], &BatchLimits::default()).await;
    assert!(matches!(out.outcomes[0], DnsOutcome::Done));
    d.env.clients.calls.reset();
    let report = apply(&d.env.clients, &prepared, &Default::default()).await;
    for (u, o) in units.iter().zip(&report.dns) {
        if u.name == d.host("c") {
            let DnsOutcome::Failed(message) = o else {
                panic!("{o:?}")
            };
            assert!(message.contains(&d.host("c")), "{message}");
        } else {
            assert!(matches!(o, DnsOutcome::Done), "{}: {o:?}", u.name);
        }
    }
    // The whole batch, then halves down to the bad unit: [abcde] [abc] [ab] [c] [de].
    assert_eq!(d.change_calls(), 5);
    let records = d.records().await;
    for l in ["a", "b", "d", "e"] {
        assert!(
            records.contains_key(&key(&format!("a-{}", d.host(l)), "TXT")),
            "{l}"
        );
    }
    assert!(!records.contains_key(&key(&format!("a-{}", d.host("c")), "TXT")));
}

#[tokio::test]
async fn fifteen_hundred_hostnames_take_the_fewest_change_calls_the_limits_allow() {
    let d = Dns::new("dns-bulk", 66).await;
    let labels: Vec<String> = (0..1500).map(|i| format!("host-{i:04}")).collect();
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let stacks = d.stacks(&refs);
    let (prepared, _) = d.apply(&stacks, false, DnsPolicy::Sync).await;
    let units = &prepared.dns.unwrap().plan.units;
    assert_eq!(units.len(), 1500);
    // The lower bound from Route53's per-call limits, whatever the packing.
    let limits = BatchLimits::default();
    let (changes, chars) = units.iter().fold((0, 0), |(n, c), u| {
        let (un, uc) = dns::weight(u);
        (n + un, c + uc)
    });
    let minimum = changes
        .div_ceil(limits.max_changes)
        .max(chars.div_ceil(limits.max_chars));
    assert_eq!(
        d.change_calls(),
        minimum as u64,
        "{changes} changes, {chars} characters"
    );
    assert_eq!(d.records().await.len(), 3000);
    // And nothing on the next pass.
    d.apply(&stacks, false, DnsPolicy::Sync).await;
    assert_eq!(d.change_calls(), 0);
}
