//! Route53 I/O on LocalStack: zone and record listings over several pages, alias and TXT
//! records written and read back unchanged, batching of many units, split-and-retry around bad
//! units, and the controller's zone cache.
//!
//! LocalStack's Route53 (moto) is global per account, not per region, so region isolation does
//! not apply: every test works in an account of its own (LocalStack takes a 12-digit access
//! key id as the account id), made from the test's number and the run id, so call counts are
//! exact even while other tests use Route53.
use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use aws_lb_operator::aws::route53::{
    apply_units, list_records, list_zones, DnsOutcome, ZoneCache, RECORD_PAGE_SIZE, ZONE_PAGE_SIZE,
};
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator_core::dns::registry::{heritage_value, TxtMapper};
use aws_lb_operator_core::dns::{
    batches, AliasTarget, BatchLimits, DnsAction, DnsChange, DnsUnit, HostedZone, RecordSet,
};
use aws_sdk_route53::types::{HostedZoneConfig, Vpc, VpcRegion};
use futures::future::join_all;

use crate::localstack::{self, create_alb, create_subnet, create_vpc, unique};

const REGION: &str = "eu-central-2";
const OWNER: &str = "r53-test";

/// Clients for an account of this run's own, `test` numbering the account within the run.
async fn account_clients(test: u32) -> AwsClients {
    localstack::account_clients(REGION, 5300 + test).await
}

/// A zone named `<label>.<unique>.example.test` (private when `vpc` is given); its id.
async fn create_zone(c: &AwsClients, label: &str, vpc: Option<&str>) -> (String, String) {
    let name = format!("{label}.{}.example.test", unique("r53"));
    let mut req = c
        .route53
        .create_hosted_zone()
        .name(&name)
        .caller_reference(format!("{name}-ref"));
    if let Some(vpc) = vpc {
        req = req
            .vpc(
                Vpc::builder()
                    .vpc_id(vpc)
                    .vpc_region(VpcRegion::from(REGION))
                    .build(),
            )
            // moto fails (500, KeyError 'Comment') on a HostedZoneConfig without a comment.
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .private_zone(true)
                    .comment("private")
                    .build(),
            );
    }
    let out = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateHostedZone {name}: {e:?}"));
    let id = out.hosted_zone().unwrap().id();
    (id.trim_start_matches("/hostedzone/").to_owned(), name)
}

fn zone(id: &str, name: &str) -> HostedZone {
    HostedZone {
        id: id.to_owned(),
        name: name.to_owned(),
        private: false,
        record_count: 0,
    }
}

fn target(n: u32) -> AliasTarget {
    AliasTarget {
        dns_name: format!("k8s-app-{n}.{REGION}.elb.amazonaws.com"),
        hosted_zone_id: "Z3F0SRJ5LGBH90".to_owned(),
        evaluate_target_health: n.is_multiple_of(2),
    }
}

/// One managed record (an alias `A`) and its registry TXT, as the planner makes them.
fn unit(zone: &HostedZone, host: &str, action: DnsAction, alias: AliasTarget) -> DnsUnit {
    let name = format!("{host}.{}", zone.name);
    let resource = format!("ingress/default/{host}");
    let txt_name = TxtMapper::default().txt_name(&name, "A");
    DnsUnit {
        zone_id: zone.id.clone(),
        zone_name: zone.name.clone(),
        stack: "default/app".to_owned(),
        resource: resource.clone(),
        name: name.clone(),
        record_type: "A".to_owned(),
        changes: vec![
            DnsChange {
                action,
                record: RecordSet::alias(&name, "A", alias),
            },
            DnsChange {
                action,
                record: RecordSet::txt(&txt_name, &heritage_value(OWNER, &resource)),
            },
        ],
        pending: None,
    }
}

/// Records of a zone other than the NS and SOA Route53 creates with it.
fn ours(records: Vec<RecordSet>) -> Vec<RecordSet> {
    records
        .into_iter()
        .filter(|r| r.record_type != "NS" && r.record_type != "SOA")
        .collect()
}

fn written(units: &[DnsUnit]) -> Vec<RecordSet> {
    let mut out: Vec<RecordSet> = units
        .iter()
        .flat_map(|u| u.changes.iter().map(|c| c.record.clone()))
        .collect();
    out.sort();
    out
}

fn calls_of(c: &AwsClients, op: &str) -> u64 {
    c.calls
        .by_operation()
        .get(&format!("route53.{op}"))
        .copied()
        .unwrap_or(0)
}

fn assert_all_done(outcomes: &[DnsOutcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o, &DnsOutcome::Done, "unit {i}");
    }
}

#[tokio::test]
async fn zones_are_listed_over_pages_with_privacy_and_record_counts() {
    let c = account_clients(1).await;
    let started = Instant::now();
    let public: Vec<(String, String)> = join_all((0..(ZONE_PAGE_SIZE as usize + 1)).map(|i| {
        let c = &c;
        async move { create_zone(c, &format!("z{i:03}"), None).await }
    }))
    .await;
    let vpc = create_vpc(&c, "10.53.0.0/16").await;
    let (private_id, private_name) = create_zone(&c, "internal", Some(&vpc)).await;
    // Two records more in one public zone.
    let (busy_id, busy_name) = &public[7];
    let report = apply_units(
        &c,
        &[unit(
            &zone(busy_id, busy_name),
            "www",
            DnsAction::Create,
            target(1),
        )],
        &BatchLimits::default(),
    )
    .await;
    assert_all_done(&report.outcomes);
    eprintln!(
        "created {} zones in {:?}",
        public.len() + 1,
        started.elapsed()
    );

    c.calls.reset();
    let zones = list_zones(&c).await.unwrap();
    let pages = zones.len().div_ceil(ZONE_PAGE_SIZE as usize) as u64;
    assert!(pages >= 2, "{} zones fit one page", zones.len());
    assert_eq!(calls_of(&c, "ListHostedZones"), pages);
    let mut sorted = zones.clone();
    sorted.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    assert_eq!(zones, sorted, "sorted by name, then id");
    assert_eq!(
        zones.iter().map(|z| &z.id).collect::<HashSet<_>>().len(),
        zones.len(),
        "every zone once"
    );

    let find = |id: &str| zones.iter().find(|z| z.id == id).unwrap();
    for (id, name) in &public {
        let z = find(id);
        assert_eq!((&z.name, z.private), (name, false), "{name}");
        let want = if id == busy_id { 4 } else { 2 }; // NS and SOA, plus A and TXT
        assert_eq!(z.record_count, want, "{name}");
        assert!(!z.id.starts_with('/'), "{}", z.id);
    }
    let private = find(&private_id);
    assert_eq!((&private.name, private.private), (&private_name, true));
    assert_eq!(private.record_count, 2);

    // Best-effort cleanup of the empty zones.
    join_all(
        public
            .iter()
            .filter(|(id, _)| id != busy_id)
            .map(|(id, _)| c.route53.delete_hosted_zone().id(id).send()),
    )
    .await;
}

#[tokio::test]
async fn records_are_listed_over_pages_with_wildcards_in_canonical_form() {
    let c = account_clients(2).await;
    let (id, name) = create_zone(&c, "many", None).await;
    let z = zone(&id, &name);
    // 700 TXT records in two calls, written raw: listing must not depend on our writer.
    for chunk in (0..700).collect::<Vec<u32>>().chunks(350) {
        let changes = chunk
            .iter()
            .map(|i| {
                let record = RecordSet::txt(&format!("t{i:04}.{name}"), &format!("v {i}"));
                aws_sdk_route53::types::Change::builder()
                    .action(aws_sdk_route53::types::ChangeAction::Create)
                    .resource_record_set(
                        aws_sdk_route53::types::ResourceRecordSet::builder()
                            .name(format!("{}.", record.name))
                            .r#type(aws_sdk_route53::types::RrType::Txt)
                            .ttl(300)
                            .resource_records(
                                aws_sdk_route53::types::ResourceRecord::builder()
                                    .value(&record.values[0])
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            })
            .collect();
        c.route53
            .change_resource_record_sets()
            .hosted_zone_id(&id)
            .change_batch(
                aws_sdk_route53::types::ChangeBatch::builder()
                    .set_changes(Some(changes))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let wild = unit(&z, "*.apps", DnsAction::Create, target(2));
    let report = apply_units(&c, std::slice::from_ref(&wild), &BatchLimits::default()).await;
    assert_all_done(&report.outcomes);

    c.calls.reset();
    let started = Instant::now();
    let records = list_records(&c, &id).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        records.len(),
        700 + 2 + 2,
        "TXT, wildcard A and TXT, NS and SOA"
    );
    assert_eq!(
        calls_of(&c, "ListResourceRecordSets"),
        records.len().div_ceil(RECORD_PAGE_SIZE as usize) as u64
    );
    eprintln!("listed {} records in {elapsed:?}", records.len());
    assert_eq!(
        records.iter().collect::<BTreeSet<_>>().len(),
        records.len(),
        "no record twice across pages"
    );
    for r in &records {
        assert!(
            !r.name.ends_with('.') && r.name == r.name.to_lowercase(),
            "{r:?}"
        );
    }
    let t7 = records
        .iter()
        .find(|r| r.name == format!("t0007.{name}"))
        .unwrap();
    assert_eq!(t7, &RecordSet::txt(&format!("t0007.{name}"), "v 7"));
    let wildcard = records
        .iter()
        .find(|r| r.name == format!("*.apps.{name}") && r.record_type == "A")
        .unwrap();
    assert_eq!(wildcard, &wild.changes[0].record);
    assert!(records.iter().any(|r| r.name == format!("a-*.apps.{name}")));
}

#[tokio::test]
async fn applied_alias_and_txt_records_read_back_equal() {
    let c = account_clients(3).await;
    let (id, name) = create_zone(&c, "app", None).await;
    let z = zone(&id, &name);
    // A real ALB as the alias target (LocalStack's Route53 validates no alias target).
    let vpc = create_vpc(&c, "10.54.0.0/16").await;
    let mut subnets = Vec::new();
    for (cidr, az) in [
        ("10.54.1.0/24", "eu-central-2a"),
        ("10.54.2.0/24", "eu-central-2b"),
    ] {
        subnets.push(create_subnet(&c, &vpc, cidr, az, &[]).await);
    }
    let alb = create_alb(&c, &unique("r53-alb"), &subnets, &[]).await;
    let lb = c
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&alb)
        .send()
        .await
        .unwrap();
    let lb = &lb.load_balancers()[0];
    let alb_target = AliasTarget {
        dns_name: lb.dns_name().unwrap().to_lowercase(),
        hosted_zone_id: lb.canonical_hosted_zone_id().unwrap().to_owned(),
        evaluate_target_health: true,
    };

    let mut units = vec![
        unit(&z, "www", DnsAction::Create, alb_target.clone()),
        unit(&z, "*.apps", DnsAction::Create, alb_target.clone()),
        unit(&z, "api", DnsAction::Create, target(3)),
    ];
    // A TXT of its own with two quoted strings, one holding spaces and an escaped quote.
    let mut txt = RecordSet::txt(&format!("note.{name}"), "x");
    txt.values = vec![r#""a \"quoted\" word" "second string""#.to_owned()];
    units[2].changes.push(DnsChange {
        action: DnsAction::Create,
        record: txt,
    });
    c.calls.reset();
    let report = apply_units(&c, &units, &BatchLimits::default()).await;
    assert_all_done(&report.outcomes);
    assert_eq!(report.calls, 1);
    assert_eq!(calls_of(&c, "ChangeResourceRecordSets"), 1);
    assert_eq!(ours(list_records(&c, &id).await.unwrap()), written(&units));

    // UPSERT moves api to the ALB; DELETE removes www exactly as written; a pending unit waits.
    let moved = unit(&z, "api", DnsAction::Upsert, alb_target.clone());
    let removed = unit(&z, "www", DnsAction::Delete, alb_target.clone());
    let mut pending = unit(&z, "later", DnsAction::Create, target(4));
    pending.pending = Some(aws_lb_operator_core::model::StackId::implicit(
        "default", "later",
    ));
    let report = apply_units(
        &c,
        &[moved.clone(), removed, pending],
        &BatchLimits::default(),
    )
    .await;
    assert_eq!(
        report.outcomes,
        vec![DnsOutcome::Done, DnsOutcome::Done, DnsOutcome::Skipped]
    );
    let mut want = written(&[units[1].clone(), moved]);
    want.extend(units[2].changes[2..].iter().map(|c| c.record.clone()));
    want.sort();
    assert_eq!(ours(list_records(&c, &id).await.unwrap()), want);
}

#[tokio::test]
async fn many_units_take_one_call_per_batch() {
    let c = account_clients(4).await;
    let (id, name) = create_zone(&c, "bulk", None).await;
    let z = zone(&id, &name);
    let units: Vec<DnsUnit> = (0..1500)
        .map(|i| unit(&z, &format!("h{i:04}"), DnsAction::Create, target(i)))
        .collect();
    let limits = BatchLimits::default();
    let planned = batches(&units, &limits);
    assert!(planned.len() > 3, "{} batches", planned.len());

    c.calls.reset();
    let started = Instant::now();
    let report = apply_units(&c, &units, &limits).await;
    let elapsed = started.elapsed();
    assert_all_done(&report.outcomes);
    assert_eq!(report.calls, planned.len());
    assert_eq!(
        calls_of(&c, "ChangeResourceRecordSets"),
        planned.len() as u64
    );
    assert_eq!(c.calls.mutating_calls(), planned.len() as u64);
    eprintln!(
        "1500 units (3000 changes) in {} calls, {elapsed:?}",
        report.calls
    );
    assert_eq!(ours(list_records(&c, &id).await.unwrap()), written(&units));
}

/// `ChangeResourceRecordSets` calls the halving makes for `part` when the units in `bad` are
/// rejected: one call, then, when it fails and holds more than one unit, both halves (the first
/// taking the odd unit).
fn halving_calls(part: &[usize], bad: &HashSet<usize>) -> usize {
    if part.len() == 1 || !part.iter().any(|i| bad.contains(i)) {
        return 1;
    }
    let (first, second) = part.split_at(part.len().div_ceil(2));
    1 + halving_calls(first, bad) + halving_calls(second, bad)
}

#[tokio::test]
async fn a_rejected_batch_is_halved_until_only_the_bad_units_fail() {
    let c = account_clients(5).await;
    let (id, name) = create_zone(&c, "split", None).await;
    let z = zone(&id, &name);
    let existing = [
        unit(&z, "exists", DnsAction::Create, target(0)),
        unit(&z, "exists2", DnsAction::Create, target(0)),
    ];
    let report = apply_units(&c, &existing, &BatchLimits::default()).await;
    assert_all_done(&report.outcomes);

    let mut units: Vec<DnsUnit> = (0..21)
        .map(|i| unit(&z, &format!("ok{i:02}"), DnsAction::Create, target(i)))
        .collect();
    // Creating a record that exists with another target is InvalidChangeBatch. (The same
    // record exactly as wanted, or a delete of a record already gone, is a success: see
    // `a_change_that_already_took_effect_is_done`.)
    units[6] = unit(&z, "exists", DnsAction::Create, target(1));
    units[15] = unit(&z, "exists2", DnsAction::Create, target(9));
    let bad: HashSet<usize> = [6, 15].into();

    c.calls.reset();
    let report = apply_units(&c, &units, &BatchLimits::default()).await;
    let expected = halving_calls(&(0..units.len()).collect::<Vec<_>>(), &bad);
    assert_eq!(report.calls, expected);
    assert_eq!(calls_of(&c, "ChangeResourceRecordSets"), expected as u64);
    let failures = report.failures();
    assert_eq!(
        failures.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![6, 15]
    );
    let (_, exists_msg) = failures[0];
    assert!(
        exists_msg.starts_with(&format!("exists.{name} A in zone {name}: "))
            && exists_msg.contains("InvalidChangeBatch")
            && exists_msg.contains(&format!("exists.{name}")),
        "{exists_msg}"
    );
    let (_, missing_msg) = failures[1];
    assert!(
        missing_msg.starts_with(&format!("exists2.{name} A in zone {name}: "))
            && missing_msg.contains("InvalidChangeBatch"),
        "{missing_msg}"
    );
    eprintln!("{exists_msg}\n{missing_msg}");
    let good: Vec<DnsUnit> = units
        .iter()
        .enumerate()
        .filter(|(i, _)| !bad.contains(i))
        .map(|(_, u)| u.clone())
        .collect();
    for (i, o) in report.outcomes.iter().enumerate() {
        if !bad.contains(&i) {
            assert_eq!(o, &DnsOutcome::Done, "unit {i}");
        }
    }
    let mut want = written(&good);
    want.extend(written(&existing));
    want.sort();
    assert_eq!(ours(list_records(&c, &id).await.unwrap()), want);
}

/// A lost response: the batch took effect, the SDK's retry (or the next pass) sends it again
/// and Route53 refuses (`CREATE` of a record that exists, `DELETE` of one that is gone). The
/// zone is read back, and a unit exactly as wanted is done; one that differs still fails.
#[tokio::test]
async fn a_change_that_already_took_effect_is_done() {
    let c = account_clients(7).await;
    let (id, name) = create_zone(&c, "again", None).await;
    let z = zone(&id, &name);
    let units: Vec<DnsUnit> = (0..3)
        .map(|i| unit(&z, &format!("h{i}"), DnsAction::Create, target(i)))
        .collect();
    let limits = BatchLimits::default();
    assert_all_done(&apply_units(&c, &units, &limits).await.outcomes);
    let after_create = ours(list_records(&c, &id).await.unwrap());

    // The same batch again: refused, read back, all done, one change call, nothing changed.
    c.calls.reset();
    let report = apply_units(&c, &units, &limits).await;
    assert_all_done(&report.outcomes);
    assert_eq!(report.calls, 1);
    assert_eq!(calls_of(&c, "ListResourceRecordSets"), 1);
    assert_eq!(ours(list_records(&c, &id).await.unwrap()), after_create);

    // One new unit with two that exist: the two are done by the read-back, the new one is sent
    // again alone and created.
    let mut mixed = units[..2].to_vec();
    mixed.push(unit(&z, "h3", DnsAction::Create, target(3)));
    c.calls.reset();
    let report = apply_units(&c, &mixed, &limits).await;
    assert_all_done(&report.outcomes);
    assert_eq!(report.calls, 2, "the batch, then the new unit alone");
    let mut want = written(&units);
    want.extend(written(&mixed[2..]));
    want.sort();
    assert_eq!(ours(list_records(&c, &id).await.unwrap()), want);

    // The same record with another target is not ours to call done.
    let other = unit(&z, "h0", DnsAction::Create, target(9));
    let report = apply_units(&c, std::slice::from_ref(&other), &limits).await;
    let failures = report.failures();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].1.contains("InvalidChangeBatch"),
        "{}",
        failures[0].1
    );

    // Deletes twice: the second finds them gone, as wanted.
    let deletes: Vec<DnsUnit> = (0..3)
        .map(|i| unit(&z, &format!("h{i}"), DnsAction::Delete, target(i)))
        .collect();
    assert_all_done(&apply_units(&c, &deletes, &limits).await.outcomes);
    let report = apply_units(&c, &deletes, &limits).await;
    assert_all_done(&report.outcomes);
    assert_eq!(
        ours(list_records(&c, &id).await.unwrap()),
        written(&mixed[2..])
    );
}

#[tokio::test]
async fn zone_cache_reads_a_zone_again_only_when_it_changed_out_of_band() {
    let c = account_clients(6).await;
    let limits = BatchLimits::default();
    let mut zs = Vec::new();
    for label in ["one", "two"] {
        let (id, name) = create_zone(&c, label, None).await;
        let z = zone(&id, &name);
        let seed: Vec<DnsUnit> = (0..3)
            .map(|i| unit(&z, &format!("s{i}"), DnsAction::Create, target(i)))
            .collect();
        assert_all_done(&apply_units(&c, &seed, &limits).await.outcomes);
        zs.push(z);
    }
    let mut cache = ZoneCache::new(Duration::from_secs(600));
    let reads = |c: &AwsClients| calls_of(c, "ListResourceRecordSets");

    // Pass 1 reads both zones; zones() twice lists once.
    c.calls.reset();
    cache.begin_pass();
    let listed = cache.zones(&c).await.unwrap().to_vec();
    cache.zones(&c).await.unwrap();
    assert_eq!(calls_of(&c, "ListHostedZones"), 1);
    assert_eq!(listed.len(), 2, "an account of this test's own");
    for z in &listed {
        assert_eq!(cache.records(&c, z).await.unwrap().len(), 2 + 6);
    }
    assert_eq!((reads(&c), cache.record_reads()), (2, 2));

    // Pass 2, nothing changed: no record reads.
    cache.begin_pass();
    let listed = cache.zones(&c).await.unwrap().to_vec();
    for z in &listed {
        cache.records(&c, z).await.unwrap();
    }
    assert_eq!(calls_of(&c, "ListHostedZones"), 2);
    assert_eq!(
        (reads(&c), cache.record_reads(), cache.record_hits()),
        (2, 2, 2)
    );

    // Someone else adds a record to zone one: pass 3 reads zone one only.
    let one = listed.iter().find(|z| z.id == zs[0].id).unwrap().clone();
    let two = listed.iter().find(|z| z.id == zs[1].id).unwrap().clone();
    let other = unit(&one, "elsewhere", DnsAction::Create, target(7));
    assert_all_done(&apply_units(&c, &[other], &limits).await.outcomes);
    cache.begin_pass();
    let listed = cache.zones(&c).await.unwrap().to_vec();
    for z in &listed {
        cache.records(&c, z).await.unwrap();
    }
    assert_eq!((reads(&c), cache.record_reads()), (3, 3));
    let fresh_one = listed.iter().find(|z| z.id == one.id).unwrap();
    assert_eq!(
        cache.records(&c, fresh_one).await.unwrap(),
        list_records(&c, &one.id).await.unwrap().as_slice()
    );

    // Our own create, upsert and delete in zone two, reported to the cache: no read, in this
    // pass or the next, and the cache equals a fresh listing.
    let ours_units = vec![
        unit(&two, "new", DnsAction::Create, target(8)),
        unit(&two, "s1", DnsAction::Upsert, target(9)),
        unit(&two, "s2", DnsAction::Delete, target(2)),
    ];
    let report = apply_units(&c, &ours_units, &limits).await;
    assert_all_done(&report.outcomes);
    for (u, o) in ours_units.iter().zip(&report.outcomes) {
        if o == &DnsOutcome::Done {
            cache.applied(u);
        }
    }
    c.calls.reset();
    let same_pass = cache.zones(&c).await.unwrap().to_vec();
    let two_now = same_pass.iter().find(|z| z.id == two.id).unwrap().clone();
    assert_eq!(two_now.record_count, two.record_count, "+1 -1");
    cache.records(&c, &two_now).await.unwrap();
    cache.begin_pass();
    let listed = cache.zones(&c).await.unwrap().to_vec();
    let two_listed = listed.iter().find(|z| z.id == two.id).unwrap().clone();
    let cached = cache.records(&c, &two_listed).await.unwrap().to_vec();
    assert_eq!(reads(&c), 0, "own writes force no read");
    assert_eq!(cached, list_records(&c, &two.id).await.unwrap());

    // A cache entry older than the maximum age is read again.
    let mut short = ZoneCache::new(Duration::ZERO);
    short.records(&c, &two_listed).await.unwrap();
    short.records(&c, &two_listed).await.unwrap();
    assert_eq!(short.record_reads(), 2);
}

#[tokio::test]
async fn a_batch_that_fails_as_a_whole_is_one_failure() {
    use crate::aws_faults::{account, clients_via, seconds_in};
    use crate::fault_proxy::{Fault, FaultProxy, Ops, Rule};
    let c = account_clients(20).await;
    let (id, name) = create_zone(&c, "lost", None).await;
    let z = zone(&id, &name);
    let units: Vec<DnsUnit> = (0..3)
        .map(|i| unit(&z, &format!("b{i}"), DnsAction::Create, target(i)))
        .collect();
    let proxy = FaultProxy::start(
        &localstack::endpoint(),
        1,
        vec![Rule::new(
            Ops::Named(vec!["route53.ChangeResourceRecordSets".into()]),
            Fault::ServerError,
            1.0,
        )],
    )
    .await;
    let opts = aws_lb_operator::aws::AwsOptions {
        max_attempts: 2,
        operation_timeout: std::time::Duration::from_secs(4),
        ..localstack::options(REGION)
    };
    let faulty = clients_via(&proxy.url, &account(5320), opts).await;
    let report = apply_units(&faulty, &units, &BatchLimits::default()).await;
    assert_eq!(
        report.calls, 1,
        "one batch, not split: the call failed, not its content"
    );
    let DnsOutcome::Failed(message) = &report.outcomes[0] else {
        panic!("{:?}", report.outcomes);
    };
    seconds_in(
        message,
        &format!(
            "b0.{name} A and 2 more record changes in zone {name} (one batch) were not applied; \
             a re-run reads the zone and finishes the job: route53.ChangeResourceRecordSets \
             failed: InternalFailure: The request processing has failed because of an unknown \
             error. (2 attempts over "
        ),
        " s)",
    );
    assert_eq!(
        &report.outcomes[1..],
        &[DnsOutcome::Skipped, DnsOutcome::Skipped],
        "the failure is reported once"
    );
    assert_eq!(report.failures().len(), 1);
    assert!(ours(list_records(&c, &id).await.unwrap()).is_empty());
}
