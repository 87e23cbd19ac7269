//! Unit tests of DNS planning, registry naming and batching.
use std::collections::BTreeMap;

use super::registry::{heritage_value, parse_heritage, TxtMapper};
use super::*;

const OWNER: &str = "prod";
const LB: &str = "k8s-shop-web-1234.eu-west-1.elb.amazonaws.com";
const LB_ZONE: &str = "Z32O12XQLNTSW2";

fn zone(id: &str, name: &str, private: bool) -> HostedZone {
    HostedZone {
        id: id.into(),
        name: name.into(),
        private,
        record_count: 2,
    }
}

fn alias(name: &str, rtype: &str, target: &str) -> RecordSet {
    RecordSet::alias(
        name,
        rtype,
        AliasTarget {
            dns_name: target.into(),
            hosted_zone_id: LB_ZONE.into(),
            evaluate_target_health: true,
        },
    )
}

fn txt(name: &str, owner: &str, resource: &str) -> RecordSet {
    RecordSet::txt(name, &heritage_value(owner, resource))
}

fn addr(dns: &str) -> LbTarget {
    LbTarget::Known(LbAddress {
        dns_name: dns.into(),
        canonical_hosted_zone_id: LB_ZONE.into(),
    })
}

fn hosts(names: &[&str]) -> Vec<DesiredHost> {
    names
        .iter()
        .map(|n| DesiredHost {
            hostname: (*n).into(),
            resource: "ingress/shop/web".into(),
        })
        .collect()
}

fn stack<'a>(hosts: &'a [DesiredHost], target: LbTarget) -> DnsStackInput<'a> {
    DnsStackInput {
        stack: StackId::implicit("shop", "web"),
        hosts,
        internal: false,
        dualstack: false,
        target,
        current_dns_names: vec![LB.into()],
        resources: vec!["ingress/shop/web".into()],
        held: &[],
    }
}

fn run(opts: &DnsOptions, records: &[RecordSet], stacks: &[DnsStackInput<'_>]) -> DnsPlan {
    let zones = vec![zone("ZPUB", "example.com", false)];
    let zr = [ZoneRecords {
        zone: &zones[0],
        records,
    }];
    plan_dns(opts, &zones, &zr, stacks, &Default::default())
}

/// (action, type, name) of every change, units in order.
fn summary(plan: &DnsPlan) -> Vec<(DnsAction, String, String)> {
    plan.units
        .iter()
        .flat_map(|u| u.changes.iter())
        .map(|c| {
            (
                c.action,
                c.record.record_type.clone(),
                c.record.name.clone(),
            )
        })
        .collect()
}

fn ch(action: DnsAction, rtype: &str, name: &str) -> (DnsAction, String, String) {
    (action, rtype.into(), name.into())
}

#[test]
fn creates_exact_and_wildcard_records_with_their_txt_in_one_unit() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["www.example.com", "*.example.com"]);
    let plan = run(&opts, &[], &[stack(&h, addr(LB))]);
    assert_eq!(
        summary(&plan),
        vec![
            ch(DnsAction::Create, "A", "*.example.com"),
            ch(DnsAction::Create, "TXT", "a-*.example.com"),
            ch(DnsAction::Create, "A", "www.example.com"),
            ch(DnsAction::Create, "TXT", "a-www.example.com"),
        ]
    );
    assert_eq!(plan.units.len(), 2, "a record and its TXT share a unit");
    let unit = &plan.units[1];
    assert_eq!(
        unit.changes[0]
            .record
            .alias
            .as_ref()
            .map(|a| a.dns_name.as_str()),
        Some(LB)
    );
    assert_eq!(
        unit.changes[1].record.values,
        vec![format!(
            "\"heritage=external-dns,external-dns/owner={OWNER},external-dns/resource=ingress/shop/web\""
        )]
    );
    assert!(plan.conflicts.is_empty());
}

#[test]
fn owned_and_unchanged_plans_nothing_and_a_moved_target_upserts_only_the_record() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["www.example.com"]);
    let records = vec![
        alias("www.example.com", "A", &format!("dualstack.{LB}")),
        txt("a-www.example.com", OWNER, "ingress/shop/web"),
    ];
    assert_eq!(
        run(&opts, &records, &[stack(&h, addr(LB))]),
        DnsPlan::default()
    );
    let plan = run(
        &opts,
        &records,
        &[stack(&h, addr("other.elb.amazonaws.com"))],
    );
    assert_eq!(
        summary(&plan),
        vec![ch(DnsAction::Upsert, "A", "www.example.com")]
    );
    let create_only = DnsOptions {
        policy: DnsPolicy::CreateOnly,
        ..opts
    };
    let plan = run(
        &create_only,
        &records,
        &[stack(&h, addr("other.elb.amazonaws.com"))],
    );
    assert!(plan.units.is_empty(), "create-only never updates");
}

#[test]
fn foreign_and_unowned_records_are_conflicts_left_untouched() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&[
        "a.example.com",
        "b.example.com",
        "c.example.com",
        "d.example.com",
    ]);
    let records = vec![
        alias("a.example.com", "A", "someone-else.elb.amazonaws.com"),
        txt("a-a.example.com", "staging", "ingress/x/y"),
        alias("b.example.com", "A", "someone-else.elb.amazonaws.com"),
        RecordSet {
            name: "c.example.com".into(),
            record_type: "CNAME".into(),
            set_identifier: None,
            ttl: Some(60),
            values: vec!["elsewhere.example.net".into()],
            alias: None,
        },
        txt("a-d.example.com", "staging", "ingress/x/y"),
    ];
    let plan = run(&opts, &records, &[stack(&h, addr(LB))]);
    assert!(plan.units.is_empty(), "{:?}", plan.units);
    let messages: Vec<(&str, &str)> = plan
        .conflicts
        .iter()
        .map(|c| (c.name.as_str(), c.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        vec![
            (
                "a.example.com",
                "a.example.com A in zone example.com is owned by \"staging\" (registry record a-a.example.com)"
            ),
            (
                "b.example.com",
                "b.example.com A exists in zone example.com without an ownership TXT record (a-b.example.com), so it is not ours to change"
            ),
            (
                "c.example.com",
                "a CNAME record c.example.com exists in zone example.com, so no A record can be created"
            ),
            (
                "d.example.com",
                "the registry record a-d.example.com in zone example.com belongs to owner \"staging\""
            ),
        ]
    );
    assert!(plan
        .conflicts
        .iter()
        .all(|c| c.resource == "ingress/shop/web"));
    // Nothing of theirs is deleted either when the stack goes.
    let none: Vec<DesiredHost> = Vec::new();
    let plan = run(&opts, &records, &[stack(&none, LbTarget::Deleted)]);
    assert!(plan.units.is_empty());
}

#[test]
fn external_dns_records_with_our_owner_are_adopted_without_churn() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["www.example.com", "api.example.com"]);
    let records = vec![
        // ExternalDNS >= v0.22: a- TXT; before: cname- TXT for alias A records; and the AAAA
        // alias ExternalDNS writes next to every alias A.
        alias("www.example.com", "A", LB),
        txt("a-www.example.com", OWNER, "ingress/shop/web"),
        alias("www.example.com", "AAAA", LB),
        txt("aaaa-www.example.com", OWNER, "ingress/shop/web"),
        alias("api.example.com", "A", LB),
        txt("cname-api.example.com", OWNER, "ingress/shop/other"),
    ];
    // The record with only a legacy TXT gets its current-format TXT once (ExternalDNS's
    // registry migration); nothing else changes, and the legacy TXT stays.
    let plan = run(&opts, &records, &[stack(&h, addr(LB))]);
    assert_eq!(
        summary(&plan),
        vec![ch(DnsAction::Upsert, "TXT", "a-api.example.com")]
    );
    assert_eq!(
        plan.units[0].changes[0].record,
        txt("a-api.example.com", OWNER, "ingress/shop/web"),
        "the current format names the object that wants the record now"
    );
    let mut migrated = records.clone();
    migrated.push(plan.units[0].changes[0].record.clone());
    assert_eq!(
        run(&opts, &migrated, &[stack(&h, addr(LB))]),
        DnsPlan::default(),
        "written once"
    );
}

/// The legacy-format rewrite as ExternalDNS's: the untyped TXT of the oldest releases too, in
/// the same batch as an alias that moved; never with create-only; never over a TXT at the
/// current name that is not a heritage value (which proves nothing and is never changed).
#[test]
fn legacy_ownership_is_rewritten_to_the_current_format_once() {
    let h = hosts(&["www.example.com"]);
    let untyped = vec![
        alias("www.example.com", "A", "k8s-old.elb.amazonaws.com"),
        txt("www.example.com", OWNER, "ingress/shop/web"),
    ];
    let plan = run(&DnsOptions::new(OWNER), &untyped, &[stack(&h, addr(LB))]);
    assert_eq!(
        summary(&plan),
        vec![
            ch(DnsAction::Upsert, "A", "www.example.com"),
            ch(DnsAction::Upsert, "TXT", "a-www.example.com"),
        ]
    );
    let create_only = DnsOptions {
        policy: DnsPolicy::CreateOnly,
        ..DnsOptions::new(OWNER)
    };
    assert_eq!(
        run(&create_only, &untyped, &[stack(&h, addr(LB))]),
        DnsPlan::default()
    );
    let mut squatted = untyped.clone();
    squatted[0] = alias("www.example.com", "A", LB);
    squatted.push(RecordSet::txt("a-www.example.com", "v=spf1 -all"));
    assert_eq!(
        run(&DnsOptions::new(OWNER), &squatted, &[stack(&h, addr(LB))]),
        DnsPlan::default()
    );
}

#[test]
fn removed_hostnames_are_deleted_with_their_txt_only_in_scope_and_only_under_sync() {
    let opts = DnsOptions::new(OWNER);
    let records = vec![
        alias("old.example.com", "A", LB),
        txt("a-old.example.com", OWNER, "ingress/shop/web"),
        alias("cname-era.example.com", "A", LB),
        txt("cname-cname-era.example.com", OWNER, "ingress/shop/web"),
        // Ours, but another stack's load balancer, named by another object.
        alias("elsewhere.example.com", "A", "k8s-other.elb.amazonaws.com"),
        txt("a-elsewhere.example.com", OWNER, "ingress/other/app"),
    ];
    let none: Vec<DesiredHost> = Vec::new();
    let plan = run(&opts, &records, &[stack(&none, addr(LB))]);
    assert_eq!(
        summary(&plan),
        vec![
            ch(DnsAction::Delete, "A", "cname-era.example.com"),
            ch(DnsAction::Delete, "TXT", "cname-cname-era.example.com"),
            ch(DnsAction::Delete, "A", "old.example.com"),
            ch(DnsAction::Delete, "TXT", "a-old.example.com"),
        ]
    );
    assert_eq!(
        plan.units[1].changes[1].record, records[1],
        "deleted exactly as it is"
    );
    // Deleting the stack reaches its records, never the one aliasing another load balancer.
    let plan = run(&opts, &records, &[stack(&none, LbTarget::Deleted)]);
    assert_eq!(plan.units.len(), 2);
    assert!(plan.units.iter().all(|u| u.name != "elsewhere.example.com"));
    for policy in [DnsPolicy::UpsertOnly, DnsPolicy::CreateOnly] {
        let o = DnsOptions {
            policy,
            ..opts.clone()
        };
        let plan = run(&o, &records, &[stack(&none, LbTarget::Deleted)]);
        assert!(plan.units.is_empty(), "{policy:?}");
    }
}

#[test]
fn a_stack_whose_plan_failed_keeps_its_records_and_a_deleted_one_loses_them() {
    let opts = DnsOptions::new(OWNER);
    let records = vec![
        alias("www.example.com", "A", LB),
        txt("a-www.example.com", OWNER, "ingress/shop/web"),
    ];
    let none: Vec<DesiredHost> = Vec::new();
    assert!(run(&opts, &records, &[stack(&none, LbTarget::Unknown)])
        .units
        .is_empty());
    let h = hosts(&["www.example.com"]);
    assert!(run(&opts, &records, &[stack(&h, LbTarget::Unknown)])
        .units
        .is_empty());
    let plan = run(&opts, &records, &[stack(&none, LbTarget::Deleted)]);
    assert_eq!(
        summary(&plan),
        vec![
            ch(DnsAction::Delete, "A", "www.example.com"),
            ch(DnsAction::Delete, "TXT", "a-www.example.com"),
        ]
    );
}

#[test]
fn the_current_registry_name_decides_ownership_over_legacy_names() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["www.example.com"]);
    // Someone else's current a- TXT beats an old cname- TXT of ours.
    let records = vec![
        alias("www.example.com", "A", "theirs.elb.amazonaws.com"),
        txt("a-www.example.com", "staging", "ingress/x/y"),
        txt("cname-www.example.com", OWNER, "ingress/shop/web"),
    ];
    let plan = run(&opts, &records, &[stack(&h, addr(LB))]);
    assert!(plan.units.is_empty());
    assert_eq!(plan.conflicts.len(), 1);
    let none: Vec<DesiredHost> = Vec::new();
    let mut s = stack(&none, LbTarget::Deleted);
    s.current_dns_names = vec!["theirs.elb.amazonaws.com".into()];
    assert!(run(&opts, &records, &[s]).units.is_empty(), "never deleted");
    // Ours under both names: both TXTs go with the record.
    let records = vec![
        alias("www.example.com", "A", LB),
        txt("a-www.example.com", OWNER, "ingress/shop/web"),
        txt("cname-www.example.com", OWNER, "ingress/shop/web"),
    ];
    let plan = run(&opts, &records, &[stack(&none, LbTarget::Deleted)]);
    assert_eq!(plan.units[0].changes.len(), 3);
}

#[test]
fn hostnames_of_members_left_out_for_errors_keep_their_records() {
    let opts = DnsOptions::new(OWNER);
    let records = vec![
        alias("broken.example.com", "A", LB),
        txt("a-broken.example.com", OWNER, "ingress/shop/broken"),
    ];
    let none: Vec<DesiredHost> = Vec::new();
    let held = vec![DesiredHost {
        hostname: "broken.example.com".into(),
        resource: "ingress/shop/broken".into(),
    }];
    let mut s = stack(&none, addr(LB));
    s.held = &held;
    assert!(run(&opts, &records, &[s]).units.is_empty());
    assert_eq!(
        run(&opts, &records, &[stack(&none, addr(LB))]).units.len(),
        1
    );
}

#[test]
fn pending_load_balancers_get_units_resolved_after_creation() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["www.example.com"]);
    let plan = run(&opts, &[], &[stack(&h, LbTarget::Pending)]);
    let mut unit = plan.units[0].clone();
    assert_eq!(unit.pending, Some(StackId::implicit("shop", "web")));
    unit.resolve_alias(&LbAddress {
        dns_name: "New.ELB.amazonaws.com.".into(),
        canonical_hosted_zone_id: "ZNEW".into(),
    });
    assert_eq!(unit.pending, None);
    let a = unit.changes[0].record.alias.clone().unwrap();
    assert_eq!(
        (a.dns_name.as_str(), a.hosted_zone_id.as_str()),
        ("new.elb.amazonaws.com", "ZNEW")
    );
    assert_eq!(unit.changes[1].record.alias, None, "the TXT stays a TXT");
}

#[test]
fn dualstack_load_balancers_get_aaaa_too() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["www.example.com"]);
    let mut s = stack(&h, addr(LB));
    s.dualstack = true;
    assert_eq!(
        summary(&run(&opts, &[], &[s])),
        vec![
            ch(DnsAction::Create, "A", "www.example.com"),
            ch(DnsAction::Create, "TXT", "a-www.example.com"),
            ch(DnsAction::Create, "AAAA", "www.example.com"),
            ch(DnsAction::Create, "TXT", "aaaa-www.example.com"),
        ]
    );
}

#[test]
fn two_stacks_wanting_one_name_the_first_keeps_it() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["www.example.com"]);
    let mut other = stack(&h, addr("k8s-other.elb.amazonaws.com"));
    other.stack = StackId::implicit("zzz", "late");
    let plan = run(&opts, &[], &[other, stack(&h, addr(LB))]);
    assert_eq!(plan.units.len(), 1);
    assert_eq!(plan.units[0].stack, "shop/web");
    assert_eq!(plan.conflicts.len(), 1);
    assert_eq!(plan.conflicts[0].stack, "zzz/late");
}

#[test]
fn a_name_kept_by_a_stack_outside_the_pass_is_neither_taken_nor_deleted() {
    let opts = DnsOptions::new(OWNER);
    let zones = vec![zone("ZPUB", "example.com", false)];
    let records = vec![
        alias("www.example.com", "A", LB),
        txt("a-www.example.com", OWNER, "ingress/shop/web"),
    ];
    let zr = [ZoneRecords {
        zone: &zones[0],
        records: &records,
    }];
    let owners: BTreeMap<String, StackId> =
        [("www.example.com".to_owned(), StackId::explicit("aaa"))].into();
    // shop/web still wants it, but stack "aaa" (first by id, not in this pass) keeps it.
    let h = hosts(&["www.example.com"]);
    let plan = plan_dns(
        &opts,
        &zones,
        &zr,
        &[stack(&h, addr("x.elb.amazonaws.com"))],
        &owners,
    );
    assert!(plan.units.is_empty());
    assert_eq!(
        plan.conflicts[0].message,
        "www.example.com is also a hostname of stack aaa, which keeps it"
    );
    // shop/web dropped the name, which moved to "aaa": not deleted here, aaa re-points it.
    let none: Vec<DesiredHost> = Vec::new();
    let plan = plan_dns(&opts, &zones, &zr, &[stack(&none, addr(LB))], &owners);
    assert!(plan.units.is_empty());
}

#[test]
fn zone_selection_by_scheme_specificity_and_filters() {
    let zones = vec![
        zone("Z1", "example.com", false),
        zone("Z2", "shop.example.com", false),
        zone("Z3", "example.com", true),
        zone("Z4", "example.com", true),
        zone("Z5", "other.org", false),
    ];
    let ids = |opts: &DnsOptions, host: &str, internal: bool| -> Vec<String> {
        opts.zones_for(&zones, host, internal)
            .iter()
            .map(|z| z.id.clone())
            .collect()
    };
    let mut opts = DnsOptions::new(OWNER);
    assert_eq!(ids(&opts, "www.shop.example.com", false), vec!["Z2"]);
    assert_eq!(ids(&opts, "www.example.com", false), vec!["Z1"]);
    assert_eq!(ids(&opts, "www.example.com", true), vec!["Z3", "Z4"]);
    assert!(ids(&opts, "www.nowhere.net", false).is_empty());
    opts.zone_type = ZoneType::Both;
    assert_eq!(ids(&opts, "www.example.com", false), vec!["Z1", "Z3", "Z4"]);
    opts.zone_type = ZoneType::Auto;
    opts.zone_id_filter = vec!["Z4".into()];
    assert_eq!(
        ids(&opts, "www.example.com", false),
        vec!["Z4"],
        "an id filter lifts auto"
    );
    opts.zone_id_filter.clear();
    opts.domain_filter = vec!["shop.example.com".into()];
    assert!(opts.wants_name("a.shop.example.com") && !opts.wants_name("a.example.com"));
    assert_eq!(ids(&opts, "a.shop.example.com", false), vec!["Z2"]);
    opts.exclude_domains = vec!["internal.shop.example.com".into()];
    assert!(!opts.wants_name("x.internal.shop.example.com"));
}

#[test]
fn names_outside_filters_are_ignored_and_names_without_a_zone_are_noted() {
    let mut opts = DnsOptions::new(OWNER);
    opts.exclude_domains = vec!["skip.example.com".into()];
    let h = hosts(&["a.skip.example.com", "www.nowhere.net"]);
    let plan = run(&opts, &[], &[stack(&h, addr(LB))]);
    assert!(plan.units.is_empty() && plan.conflicts.is_empty());
    assert_eq!(plan.unzoned, vec!["www.nowhere.net"]);
}

#[test]
fn txt_names_follow_external_dns() {
    let cases = [
        ("", "", "www.example.com", "A", "a-www.example.com"),
        ("", "", "*.example.com", "A", "a-*.example.com"),
        ("", "", "www.example.com", "AAAA", "aaaa-www.example.com"),
        ("txt.", "", "www.example.com", "A", "txt.a-www.example.com"),
        ("", "-x", "www.example.com", "A", "a-www-x.example.com"),
        (
            "%{record_type}-abc.",
            "",
            "example.com",
            "A",
            "a-abc.example.com",
        ),
        (
            "",
            "-%{record_type}",
            "www.example.com",
            "A",
            "www-a.example.com",
        ),
        ("TXT.", "", "www.example.com", "A", "txt.a-www.example.com"),
    ];
    for (prefix, suffix, name, rtype, want) in cases {
        let m = TxtMapper::new(prefix, suffix).unwrap();
        assert_eq!(
            m.txt_name(name, rtype),
            want,
            "{prefix:?} {suffix:?} {name}"
        );
    }
    assert_eq!(
        TxtMapper::new("p.", "-s").unwrap_err(),
        "--dns-txt-prefix \"p.\" and --dns-txt-suffix \"-s\" are mutually exclusive: set one of them"
    );
    assert_eq!(
        TxtMapper::default().legacy_txt_names("www.example.com", "A"),
        vec!["cname-www.example.com", "www.example.com"]
    );
    assert!(TxtMapper::default()
        .legacy_txt_names("www.example.com", "AAAA")
        .is_empty());
}

#[test]
fn an_apex_record_needs_a_prefix_that_keeps_the_txt_in_the_zone() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["example.com"]);
    let plan = run(&opts, &[], &[stack(&h, addr(LB))]);
    assert!(plan.units.is_empty());
    assert_eq!(
        plan.conflicts[0].message,
        "the registry record a-example.com for example.com falls outside zone example.com: at a \
         zone apex set --dns-txt-prefix with %{record_type} ending in '.'"
    );
    let mut opts = DnsOptions::new(OWNER);
    opts.txt = TxtMapper::new("%{record_type}-reg.", "").unwrap();
    let plan = run(&opts, &[], &[stack(&h, addr(LB))]);
    assert_eq!(
        summary(&plan),
        vec![
            ch(DnsAction::Create, "A", "example.com"),
            ch(DnsAction::Create, "TXT", "a-reg.example.com"),
        ]
    );
}

#[test]
fn heritage_values_parse_and_reject_foreign_text() {
    let v = format!("\"{}\"", heritage_value("o1", "service/ns/svc"));
    let labels = parse_heritage(&v).unwrap();
    assert_eq!(labels.get("owner").map(String::as_str), Some("o1"));
    assert_eq!(
        labels.get("resource").map(String::as_str),
        Some("service/ns/svc")
    );
    assert_eq!(
        parse_heritage("\"v=spf1 include:_spf.example.com ~all\""),
        None
    );
    assert_eq!(
        parse_heritage("\"heritage=someone-else,external-dns/owner=o1\""),
        None
    );
}

#[test]
fn canonical_names() {
    assert_eq!(canonical_name("\\052.Example.COM."), "*.example.com");
    assert_eq!(canonical_name("a\\055b.example.com"), "a-b.example.com");
    assert_eq!(canonical_name("plain.example.com"), "plain.example.com");
    assert!(is_in_domain("a.example.com", "example.com"));
    assert!(is_in_domain("example.com", "example.com"));
    assert!(!is_in_domain("badexample.com", "example.com"));
}

fn unit(zone: &str, action: DnsAction, value_len: usize) -> DnsUnit {
    DnsUnit {
        zone_id: zone.into(),
        zone_name: "example.com".into(),
        stack: String::new(),
        resource: String::new(),
        name: "x".into(),
        record_type: "A".into(),
        changes: vec![
            DnsChange {
                action,
                record: alias("x.example.com", "A", LB),
            },
            DnsChange {
                action,
                record: RecordSet::txt("a-x.example.com", &"v".repeat(value_len)),
            },
        ],
        pending: None,
    }
}

#[test]
fn batches_respect_change_and_character_limits_and_never_split_a_unit() {
    let limits = BatchLimits::default();
    // 1,500 creates of 2 changes: 3,000 changes -> 3 calls by count (500 units each).
    let units: Vec<DnsUnit> = (0..1500).map(|_| unit("Z", DnsAction::Create, 8)).collect();
    let b = batches(&units, &limits);
    assert_eq!(
        b.iter().map(|b| b.units.len()).collect::<Vec<_>>(),
        vec![500, 500, 500]
    );
    // UPSERT counts twice: 250 units per call.
    let units: Vec<DnsUnit> = (0..500).map(|_| unit("Z", DnsAction::Upsert, 8)).collect();
    assert_eq!(batches(&units, &limits).len(), 2);
    // Characters: values of 1,000 (+2 quotes) chars, 31 fit under 32,000.
    let units: Vec<DnsUnit> = (0..62)
        .map(|_| unit("Z", DnsAction::Create, 1000))
        .collect();
    let b = batches(&units, &limits);
    assert_eq!(
        b.iter().map(|b| b.units.len()).collect::<Vec<_>>(),
        vec![31, 31]
    );
    // One call per zone, plan order kept.
    let units = vec![
        unit("Z2", DnsAction::Create, 1),
        unit("Z1", DnsAction::Create, 1),
        unit("Z2", DnsAction::Delete, 1),
    ];
    let b = batches(&units, &limits);
    assert_eq!(
        b,
        vec![
            Batch {
                zone_id: "Z1".into(),
                units: vec![1]
            },
            Batch {
                zone_id: "Z2".into(),
                units: vec![0, 2]
            },
        ]
    );
    // A unit over a limit alone gets a call of its own.
    let units = vec![
        unit("Z", DnsAction::Create, 40_000),
        unit("Z", DnsAction::Create, 1),
    ];
    assert_eq!(batches(&units, &limits).len(), 2);
}

fn cname(name: &str, target: &str) -> RecordSet {
    RecordSet {
        name: name.into(),
        record_type: "CNAME".into(),
        set_identifier: None,
        ttl: Some(300),
        values: vec![target.into()],
        alias: None,
    }
}

/// ExternalDNS's planner (plan/plan.go, `calculatePlanTableRowChanges`): a current CNAME that is
/// no longer desired is deleted and the desired A created, in one change batch, when every
/// record at the name is ours (what ExternalDNS wrote with `--aws-prefer-cname`).
#[test]
fn an_owned_cname_is_replaced_by_the_alias_records_in_one_unit() {
    let opts = DnsOptions::new(OWNER);
    let h = hosts(&["www.example.com"]);
    let records = vec![
        cname("www.example.com", LB),
        txt("cname-www.example.com", OWNER, "ingress/shop/web"),
        txt("www.example.com", OWNER, "ingress/shop/web"),
    ];
    let plan = run(&opts, &records, &[stack(&h, addr(LB))]);
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    assert_eq!(plan.units.len(), 1, "one change batch");
    assert_eq!(
        summary(&plan),
        vec![
            ch(DnsAction::Delete, "CNAME", "www.example.com"),
            ch(DnsAction::Delete, "TXT", "cname-www.example.com"),
            ch(DnsAction::Delete, "TXT", "www.example.com"),
            ch(DnsAction::Create, "A", "www.example.com"),
            ch(DnsAction::Create, "TXT", "a-www.example.com"),
        ]
    );
    // The deletes carry the records exactly as they are (Route53 needs an exact match).
    assert_eq!(plan.units[0].changes[0].record, records[0]);

    // Dualstack: the AAAA joins the same batch, and is not planned a second time.
    let mut dual = stack(&h, addr(LB));
    dual.dualstack = true;
    let plan = run(&opts, &records, &[dual]);
    assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
    assert_eq!(plan.units.len(), 1, "one change batch");
    assert_eq!(
        summary(&plan),
        vec![
            ch(DnsAction::Delete, "CNAME", "www.example.com"),
            ch(DnsAction::Delete, "TXT", "cname-www.example.com"),
            ch(DnsAction::Delete, "TXT", "www.example.com"),
            ch(DnsAction::Create, "A", "www.example.com"),
            ch(DnsAction::Create, "TXT", "a-www.example.com"),
            ch(DnsAction::Create, "AAAA", "www.example.com"),
            ch(DnsAction::Create, "TXT", "aaaa-www.example.com"),
        ]
    );

    // Policies that never delete leave the CNAME and say why.
    let upsert_only = DnsOptions {
        policy: DnsPolicy::UpsertOnly,
        ..DnsOptions::new(OWNER)
    };
    let plan = run(&upsert_only, &records, &[stack(&h, addr(LB))]);
    assert!(plan.units.is_empty(), "{:?}", plan.units);
    let messages: Vec<&str> = plan.conflicts.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(
        messages,
        ["the CNAME record www.example.com in zone example.com is ours, but --dns-policy upsert-only never deletes records, so no A record can replace it"]
    );

    // Another owner's CNAME stays a conflict.
    let foreign = vec![
        cname("www.example.com", LB),
        txt("cname-www.example.com", "staging", "ingress/x/y"),
    ];
    let plan = run(&opts, &foreign, &[stack(&h, addr(LB))]);
    assert!(plan.units.is_empty(), "{:?}", plan.units);
    assert_eq!(
        plan.conflicts[0].message,
        "a CNAME record www.example.com exists in zone example.com, so no A record can be created"
    );
}
