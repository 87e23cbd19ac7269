//! Route53 through the binary, as users run it: `plan`'s `dnsRecords`, `diff`/`apply` with
//! `dnsChanges` and the `route53` section, no change call on an unchanged re-apply, a foreign
//! record reported and left alone (exit 2), `--dns-disabled`, the TXT prefix/suffix exclusion,
//! and a hostname no zone can hold.
//!
//! Route53 is global per account in LocalStack, so this suite works in an account of its own
//! (the binary gets it as a 12-digit `AWS_ACCESS_KEY_ID`, as [`localstack::account_clients`]
//! does), with a public zone for a domain unique to the run.
use std::path::{Path, PathBuf};

use aws_lb_operator::aws::route53::list_records;
use aws_lb_operator::aws::AwsClients;
use aws_lb_operator_core::dns::registry::heritage_value;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use serde_json::Value;

use crate::localstack::{self, create_subnet, create_vpc, operator, run_id, unique};

const REGION: &str = "eu-north-1";
/// Account number of this suite within the test crate (see `localstack::account_clients`).
const ACCOUNT: u32 = 5500;

/// The account id `localstack::account_clients(_, n)` works in, as an access key id.
fn account_key(n: u32) -> String {
    let run = u32::from_str_radix(run_id(), 16).unwrap_or_default();
    format!("{n:04}{run:08}")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = operator(REGION, args)
        .env("AWS_ACCESS_KEY_ID", account_key(ACCOUNT))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The seed example with its hosts moved under `domain` (`shop.<domain>`,
/// `*.shop.<domain>`), plus `extra` hostnames in the ExternalDNS annotation, written to a
/// directory of its own.
fn manifests(name: &str, domain: &str, extra: &[&str]) -> PathBuf {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/seed");
    let dir = std::env::temp_dir().join(format!("aws-lb-cli-dns-{}-{name}", run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["endpointslices.yaml", "services.yaml", "ingressclass.yaml"] {
        std::fs::copy(seed.join(file), dir.join(file)).unwrap();
    }
    let mut ingress = std::fs::read_to_string(seed.join("ingress.yaml"))
        .unwrap()
        .replace("shop.example.com", &format!("shop.{domain}"));
    if !extra.is_empty() {
        let scheme = "    alb.ingress.kubernetes.io/scheme: internet-facing\n";
        assert!(ingress.contains(scheme));
        ingress = ingress.replace(
            scheme,
            &format!(
                "{scheme}    external-dns.alpha.kubernetes.io/hostname: {}\n",
                extra.join(",")
            ),
        );
    }
    std::fs::write(dir.join("ingress.yaml"), ingress).unwrap();
    dir
}

async fn create_zone(c: &AwsClients, domain: &str) -> String {
    let out = c
        .route53
        .create_hosted_zone()
        .name(domain)
        .caller_reference(unique("cli-dns-zone"))
        .send()
        .await
        .unwrap();
    out.hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned()
}

/// Another owner's alias `A` and its registry TXT at `name`.
async fn write_foreign(c: &AwsClients, zone_id: &str, name: &str) {
    let alias = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .dns_name("elsewhere.example.net")
                .hosted_zone_id("Z2FDTNDATAQYW2")
                .evaluate_target_health(true)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let txt = ResourceRecordSet::builder()
        .name(format!("a-{name}"))
        .r#type(RrType::Txt)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value(format!(
                    "\"{}\"",
                    heritage_value("someone-else", "ingress/x/y")
                ))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let changes = [alias, txt]
        .into_iter()
        .map(|r| {
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(r)
                .build()
                .unwrap()
        })
        .collect();
    c.route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_through_the_binary() {
    let c = localstack::account_clients(REGION, ACCOUNT).await;
    let vpc = create_vpc(&c, "10.72.0.0/16").await;
    for (i, az) in ["a", "b"].iter().enumerate() {
        create_subnet(
            &c,
            &vpc,
            &format!("10.72.{i}.0/24"),
            &format!("{REGION}{az}"),
            &[("kubernetes.io/role/elb", "1")],
        )
        .await;
    }
    let domain = format!("{}.example.net", unique("cli-dns"));
    let zone_id = create_zone(&c, &domain).await;
    let cluster = unique("cli-dns");
    let shop = format!("shop.{domain}");
    let wildcard = format!("*.shop.{domain}");
    let seed = manifests("seed", &domain, &[]);
    let seed = seed.to_str().unwrap();
    let common = [
        "-f",
        seed,
        "--cluster-name",
        cluster.as_str(),
        "--vpc-id",
        vpc.as_str(),
    ];

    // plan, offline: one alias A per host, owned by the cluster.
    let (code, out, err) = run(&["plan", "-f", seed, "--cluster-name", &cluster, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    let records = doc["dnsRecords"].as_array().unwrap();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec![wildcard.as_str(), shop.as_str()]);
    for r in records {
        assert_eq!(r["type"], "A", "{r}");
        assert!(
            r["aliasTarget"]["loadBalancer"]
                .as_str()
                .unwrap()
                .starts_with("k8s-shop-storefro-"),
            "{r}"
        );
        assert_eq!(r["aliasTarget"]["evaluateTargetHealth"], true, "{r}");
        assert_eq!(r["owner"], cluster.as_str(), "{r}");
        assert_eq!(r["resource"], "ingress/shop/storefront", "{r}");
    }

    // diff before the load balancer exists: both records to create, waiting for it.
    let (code, out, err) = run(&[&["diff"], &common[..], &["-o", "json"]].concat());
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    let units = doc["dnsChanges"].as_array().unwrap();
    assert_eq!(units.len(), 2, "{out}");
    for u in units {
        assert_eq!(u["zoneId"], zone_id.as_str(), "{u}");
        assert_eq!(u["pending"], "shop/storefront", "{u}");
        assert!(u.get("outcome").is_none(), "diff applies nothing: {u}");
        let changes = u["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 2, "the record and its TXT: {u}");
        assert_eq!(changes[0]["action"], "CREATE", "{u}");
        assert_eq!(changes[0]["record"]["type"], "A", "{u}");
        assert_eq!(changes[1]["action"], "CREATE", "{u}");
        assert_eq!(changes[1]["record"]["type"], "TXT", "{u}");
        assert_eq!(
            changes[1]["record"]["name"],
            format!("a-{}", u["name"].as_str().unwrap()).as_str()
        );
    }
    let calls = doc["awsCalls"].as_object().unwrap();
    assert_eq!(calls["route53.ListHostedZones"], 1, "{calls:?}");
    assert_eq!(calls["route53.ListResourceRecordSets"], 1, "{calls:?}");
    assert!(!calls.contains_key("route53.ChangeResourceRecordSets"));

    // apply: the route53 section, and the records counted in the summary.
    let (code, out, err) = run(&[&["apply"], &common[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nroute53\n"), "{out}");
    for name in [&wildcard, &shop] {
        let line = format!(
            "  + create A {name} in zone {domain} -> the new load balancer (with its TXT)  \
             [route53.ChangeResourceRecordSets]\n"
        );
        assert!(out.contains(&line), "{line}\n{out}");
    }
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("Applied: "), "{last}");
    assert!(
        last.contains(" deregistrations, 2 DNS record changes; "),
        "{last}"
    );
    let written = list_records(&c, &zone_id).await.unwrap();
    let alias = written
        .iter()
        .find(|r| r.name == shop && r.record_type == "A")
        .and_then(|r| r.alias.clone())
        .unwrap_or_else(|| panic!("{written:?}"));
    assert!(
        alias.dns_name.starts_with("k8s-shop-storefro-"),
        "{alias:?}"
    );
    let txt = written
        .iter()
        .find(|r| r.name == format!("a-{shop}") && r.record_type == "TXT")
        .unwrap_or_else(|| panic!("{written:?}"));
    assert_eq!(
        txt.values,
        vec![format!(
            "\"{}\"",
            heritage_value(&cluster, "ingress/shop/storefront")
        )]
    );

    // Unchanged: no Route53 change, nothing mutating, zones and records read once.
    let (code, out, err) = run(&[&["apply"], &common[..], &["-o", "json"]].concat());
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    assert_eq!(doc["dnsChanges"].as_array().unwrap().len(), 0, "{out}");
    assert_eq!(doc["changes"].as_array().unwrap().len(), 0, "{out}");
    let calls = doc["awsCalls"].as_object().unwrap();
    assert!(
        !calls.contains_key("route53.ChangeResourceRecordSets"),
        "{calls:?}"
    );
    assert_eq!(calls["route53.ListHostedZones"], 1, "{calls:?}");
    assert_eq!(calls["route53.ListResourceRecordSets"], 1, "{calls:?}");

    // A hostname another owner holds: reported, left alone, exit 2; the rest still applies.
    let taken = format!("taken.{domain}");
    write_foreign(&c, &zone_id, &taken).await;
    let before = list_records(&c, &zone_id).await.unwrap();
    let with_taken = manifests("taken", &domain, &[&taken]);
    let with_taken = with_taken.to_str().unwrap();
    let taken_args = [
        "-f",
        with_taken,
        "--cluster-name",
        cluster.as_str(),
        "--vpc-id",
        vpc.as_str(),
    ];
    let (code, out, err) = run(&[&["apply"], &taken_args[..]].concat());
    assert_eq!(code, 2, "{out}\n{err}");
    let warning = format!(
        "warning: ingress/shop/storefront (shop/storefront): DNS record {taken} A left alone: \
         {taken} A in zone {domain} is owned by \"someone-else\" (registry record a-{taken})"
    );
    assert!(err.lines().any(|l| l == warning), "{warning}\n{err}");
    assert!(!out.contains("route53"), "nothing to change: {out}");
    assert_eq!(list_records(&c, &zone_id).await.unwrap(), before);

    // --dns-disabled: Route53 is not even read.
    let (code, out, err) = run(&[
        &["apply"],
        &taken_args[..],
        &["--dns-disabled", "-o", "json"],
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    assert_eq!(doc["dnsChanges"].as_array().unwrap().len(), 0, "{out}");
    assert!(doc.get("dnsConflicts").is_none(), "{out}");
    let calls = doc["awsCalls"].as_object().unwrap();
    assert!(
        calls.keys().all(|k| !k.starts_with("route53.")),
        "{calls:?}"
    );

    // ExternalDNS's rule: a TXT prefix or a suffix, not both.
    let (code, out, err) = run(&[
        &["diff"],
        &common[..],
        &["--dns-txt-prefix", "a", "--dns-txt-suffix", "b"],
    ]
    .concat());
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(
        err.trim(),
        "error: --dns-txt-prefix \"a\" and --dns-txt-suffix \"b\" are mutually exclusive: set \
         one of them"
    );

    // A name no hosted zone can hold is left to whoever serves it: a note, exit 0.
    let nowhere = format!("www.{}.nozone.test", run_id());
    let unzoned = manifests("unzoned", &domain, &[&nowhere]);
    let (code, out, err) = run(&[
        "diff",
        "-f",
        unzoned.to_str().unwrap(),
        "--cluster-name",
        &cluster,
        "--vpc-id",
        &vpc,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.lines()
            .any(|l| l
                == format!("note: no hosted zone for {nowhere}: no DNS record is managed for it")),
        "{err}"
    );
    assert!(out.starts_with("No changes: "), "{out}");

    // Pruning the stack removes exactly its records (the foreign ones stay).
    let empty = std::env::temp_dir().join(format!("aws-lb-cli-dns-{}-empty", run_id()));
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(
        Path::new(seed).join("ingressclass.yaml"),
        empty.join("ingressclass.yaml"),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "apply",
        "-f",
        empty.to_str().unwrap(),
        "--cluster-name",
        &cluster,
        "--vpc-id",
        &vpc,
        "--prune",
    ]);
    assert_eq!(code, 0, "{err}");
    for name in [&wildcard, &shop] {
        let line = format!("  - delete A {name} in zone {domain} (with its TXT)");
        assert!(out.contains(&line), "{line}\n{out}");
    }
    assert!(out.contains(" 2 DNS record changes; "), "{out}");
    let left: Vec<(String, String)> = list_records(&c, &zone_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.record_type != "SOA" && r.record_type != "NS")
        .map(|r| (r.name, r.record_type))
        .collect();
    assert_eq!(
        left,
        vec![
            (format!("a-{taken}"), "TXT".to_owned()),
            (taken.clone(), "A".to_owned()),
        ]
    );
}
