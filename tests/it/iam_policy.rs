//! `iam-policies/controller.json` grants exactly what the operator calls.
//!
//! - Statically (always run): every AWS SDK operation called in `src/aws/*.rs` is allowed, every
//!   allowed action is called (or AWS authorises it implicitly, listed below), mutating ELBv2
//!   and EC2 actions carry `elbv2.k8s.aws/cluster` tag conditions (or are listed with the reason
//!   they cannot), and Route53 writes are scoped to hosted zones.
//! - From recordings (ignored; `scripts/test.sh` runs it after the suites): every operation the
//!   test suites' processes called (`AWS_LB_OPERATOR_RECORD_CALLS`, written by
//!   `src/aws/calls.rs`) is allowed, and every allowed action was called or is listed with the
//!   reason LocalStack cannot exercise it.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aws_lb_operator::aws::calls::{is_mutating, RECORD_CALLS_ENV};
use serde_json::Value;

const POLICY: &str = "iam-policies/controller.json";
const CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";

/// SDK crates, the name the call counter gives their service, and their IAM prefix.
const SERVICES: &[(&str, &str, &str)] = &[
    (
        "aws-sdk-elasticloadbalancingv2",
        "elbv2",
        "elasticloadbalancing",
    ),
    ("aws-sdk-ec2", "ec2", "ec2"),
    ("aws-sdk-route53", "route53", "route53"),
];

/// Actions AWS authorises on the operator's behalf during another call; the operator never
/// calls them itself.
const IMPLICIT: &[(&str, &str)] = &[(
    "iam:CreateServiceLinkedRole",
    "elbv2 CreateLoadBalancer creates ELB's service-linked role in an account that never had a \
     load balancer, with the caller's permission",
)];

/// Mutating ELBv2/EC2 actions allowed without an `elbv2.k8s.aws/cluster` tag condition (on
/// some resource), and why.
const UNCONDITIONED: &[(&str, &str)] = &[
    (
        "ec2:CreateSecurityGroup",
        "the vpc/* resource of CreateSecurityGroup carries no request tags; the security-group/* \
         resource is conditioned",
    ),
    (
        "ec2:AuthorizeSecurityGroupIngress",
        "target security groups (nodes', pods') belong to the cluster, not the operator, and \
         carry no elbv2.k8s.aws/cluster tag",
    ),
    (
        "ec2:RevokeSecurityGroupIngress",
        "as AuthorizeSecurityGroupIngress: only rules the operator added are revoked",
    ),
    (
        "elasticloadbalancing:CreateListener",
        "listeners and rules made by older AWS Load Balancer Controllers carry no tags; \
         conditioning them would break adoption (the AWS Load Balancer Controller's policy \
         leaves them unconditioned too)",
    ),
    ("elasticloadbalancing:DeleteListener", "as CreateListener"),
    ("elasticloadbalancing:ModifyListener", "as CreateListener"),
    (
        "elasticloadbalancing:AddListenerCertificates",
        "as CreateListener",
    ),
    (
        "elasticloadbalancing:RemoveListenerCertificates",
        "as CreateListener",
    ),
    ("elasticloadbalancing:CreateRule", "as CreateListener"),
    ("elasticloadbalancing:ModifyRule", "as CreateListener"),
    ("elasticloadbalancing:DeleteRule", "as CreateListener"),
    (
        "elasticloadbalancing:SetRulePriorities",
        "as CreateListener",
    ),
    (
        "elasticloadbalancing:AddTags",
        "on listener and rule ARNs only (tag-on-create of CreateListener and CreateRule), as \
         CreateListener",
    ),
    (
        "elasticloadbalancing:RemoveTags",
        "on listener and rule ARNs only, as AddTags",
    ),
    (
        "elasticloadbalancing:RegisterTargets",
        "a TargetGroupBinding's target group is the user's, not tagged for the cluster",
    ),
    (
        "elasticloadbalancing:DeregisterTargets",
        "as RegisterTargets",
    ),
];

/// Operations the LocalStack suites call directly to build fixtures (VPCs, subnets, zones,
/// foreign resources); the operator never calls them (checked against the source scan).
const TEST_SETUP_ONLY: &[&str] = &[
    "ec2.CreateVpc",
    "ec2.CreateSubnet",
    "route53.CreateHostedZone",
    "route53.DeleteHostedZone",
];

/// Policy actions no suite exercises on LocalStack, and why.
const NOT_EXERCISED: &[(&str, &str)] = &[(
    "iam:CreateServiceLinkedRole",
    "implicit (see IMPLICIT); LocalStack neither needs nor creates service-linked roles",
)];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().expect("strings").to_owned())
            .collect(),
        Value::Null => vec![],
        other => panic!("expected a string or a list, got {other}"),
    }
}

/// One statement of the policy.
struct Statement {
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Value,
}

fn policy() -> Vec<Statement> {
    let text = std::fs::read_to_string(repo().join(POLICY)).expect(POLICY);
    let doc: Value = serde_json::from_str(&text).expect("controller.json is JSON");
    assert_eq!(doc["Version"], "2012-10-17");
    doc["Statement"]
        .as_array()
        .expect("Statement list")
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow", "{s}");
            assert!(s.get("NotAction").is_none() && s.get("NotResource").is_none());
            Statement {
                sid: s["Sid"]
                    .as_str()
                    .expect("every statement has a Sid")
                    .to_owned(),
                actions: as_list(&s["Action"]),
                resources: as_list(&s["Resource"]),
                condition: s.get("Condition").cloned().unwrap_or(Value::Null),
            }
        })
        .collect()
}

fn policy_actions() -> BTreeSet<String> {
    policy().into_iter().flat_map(|s| s.actions).collect()
}

/// `elbv2.CreateRule` → `elasticloadbalancing:CreateRule`.
fn iam_action(recorded: &str) -> Option<String> {
    let (service, op) = recorded.split_once('.')?;
    SERVICES
        .iter()
        .find(|(_, s, _)| *s == service)
        .map(|(_, _, prefix)| format!("{prefix}:{op}"))
}

/// The version of `krate` in Cargo.lock.
fn locked_version(krate: &str) -> String {
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).expect("Cargo.lock");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{krate}\"") {
            let v = lines.next().expect("version line");
            return v
                .trim_start_matches("version = \"")
                .trim_end_matches('"')
                .to_owned();
        }
    }
    panic!("{krate} is not in Cargo.lock")
}

/// The unpacked source of `krate` as cargo downloaded it.
fn crate_source(krate: &str) -> PathBuf {
    let version = locked_version(krate);
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"));
    let registries = cargo_home.join("registry").join("src");
    let found = std::fs::read_dir(&registries)
        .unwrap_or_else(|e| panic!("{}: {e}", registries.display()))
        .filter_map(Result::ok)
        .map(|d| d.path().join(format!("{krate}-{version}")))
        .find(|p| p.is_dir());
    found.unwrap_or_else(|| panic!("{krate} {version} not found under {}", registries.display()))
}

/// The SDK's operations: snake_case fluent method → API name, read from each operation's
/// `Metadata::new("Name", ...)` in the crate's source.
fn sdk_operations(krate: &str) -> BTreeMap<String, String> {
    let dir = crate_source(krate).join("src").join("operation");
    let mut ops = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("operation dir").flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let snake = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(at) = text.find("Metadata::new(") else {
            continue;
        };
        let rest = &text[at..];
        let start = rest.find('"').unwrap() + 1;
        let end = start + rest[start..].find('"').unwrap();
        ops.insert(snake, rest[start..end].to_owned());
    }
    assert!(ops.len() > 10, "no operations found in {}", dir.display());
    ops
}

/// Every SDK operation called in `src/aws/*.rs`, as `service.Operation`.
///
/// A call is `<receiver>.<operation>()` where `<operation>` is an operation of some SDK crate.
/// The service is the receiver's (`elb`/`elbv2`, `ec2`, `route53`; `client` is the service of
/// its file), else the only SDK that has the operation.
fn operator_operations() -> BTreeSet<String> {
    let sdks: Vec<(&str, BTreeMap<String, String>)> = SERVICES
        .iter()
        .map(|(krate, service, _)| (*service, sdk_operations(krate)))
        .collect();
    let mut found = BTreeSet::new();
    // src/aws/*.rs and the files of its subdirectories (src/aws/execute/*.rs).
    let mut paths = Vec::new();
    let mut dirs = vec![repo().join("src").join("aws")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                paths.push(path);
            }
        }
    }
    for path in paths {
        let file = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let bytes = text.as_bytes();
        for (dot, _) in text.match_indices('.') {
            let name: String = text[dot + 1..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if name.is_empty() || !text[dot + 1 + name.len()..].starts_with("()") {
                continue;
            }
            let candidates: Vec<&str> = sdks
                .iter()
                .filter(|(_, ops)| ops.contains_key(&name))
                .map(|(s, _)| *s)
                .collect();
            if candidates.is_empty() {
                continue;
            }
            // The identifier before the dot (skipping whitespace): the receiver.
            let mut end = dot;
            while end > 0 && bytes[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            let mut start = end;
            while start > 0
                && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_')
            {
                start -= 1;
            }
            let receiver = &text[start..end];
            let service = match receiver {
                "elb" | "elbv2" => Some("elbv2"),
                "ec2" => Some("ec2"),
                "route53" => Some("route53"),
                "client" if ["elbv2", "ec2", "route53"].contains(&file.as_str()) => {
                    Some(file.as_str())
                }
                _ if candidates.len() == 1 => Some(candidates[0]),
                _ => None,
            };
            let service = service.unwrap_or_else(|| {
                panic!(
                    "src/aws/{file}.rs: `{receiver}.{name}()` is an operation of {candidates:?}; \
                     name the client elb/ec2/route53 or teach this test the receiver"
                )
            });
            assert!(
                candidates.contains(&service),
                "src/aws/{file}.rs: `{receiver}.{name}()` is not an operation of {service}"
            );
            let ops = &sdks.iter().find(|(s, _)| *s == service).unwrap().1;
            found.insert(format!("{service}.{}", ops[&name]));
        }
    }
    found
}

#[test]
fn every_operation_the_source_calls_is_allowed() {
    let ops = operator_operations();
    // A scan that finds little is broken, not proof of a small policy.
    for expected in [
        "elbv2.CreateLoadBalancer",
        "elbv2.DescribeTags",
        "ec2.CreateSecurityGroup",
        "route53.ChangeResourceRecordSets",
    ] {
        assert!(
            ops.contains(expected),
            "the scan missed {expected}: {ops:?}"
        );
    }
    let actions = policy_actions();
    let missing: Vec<String> = ops
        .iter()
        .map(|op| iam_action(op).unwrap())
        .filter(|a| !actions.contains(a))
        .collect();
    assert!(
        missing.is_empty(),
        "src/aws calls operations {POLICY} does not allow: {missing:?}; add them (with tag \
         conditions for mutating ELBv2/EC2 actions) and document them in iam-policies/README.md"
    );
}

#[test]
fn every_allowed_action_is_called_or_implicit() {
    let called: BTreeSet<String> = operator_operations()
        .iter()
        .map(|op| iam_action(op).unwrap())
        .collect();
    let implicit: BTreeSet<&str> = IMPLICIT.iter().map(|(a, _)| *a).collect();
    let unused: Vec<String> = policy_actions()
        .into_iter()
        .filter(|a| !called.contains(a) && !implicit.contains(a.as_str()))
        .collect();
    assert!(
        unused.is_empty(),
        "{POLICY} allows actions src/aws never calls: {unused:?}; remove them"
    );
    for (action, _) in IMPLICIT {
        assert!(
            policy_actions().contains(*action),
            "IMPLICIT lists {action}, not in the policy"
        );
    }
}

#[test]
fn only_the_sdk_boundary_imports_the_sdk() {
    // The source scan covers src/aws only; this keeps it complete.
    let mut stack = vec![repo().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "aws") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    !text.contains("aws_sdk_"),
                    "{} uses the AWS SDK outside src/aws",
                    path.display()
                );
            }
        }
    }
}

fn has_cluster_tag_condition(condition: &Value) -> bool {
    condition
        .as_object()
        .into_iter()
        .flat_map(|ops| ops.values())
        .filter_map(Value::as_object)
        .flat_map(|keys| keys.keys())
        .any(|k| {
            k == &format!("aws:ResourceTag/{CLUSTER_TAG}")
                || k == &format!("aws:RequestTag/{CLUSTER_TAG}")
        })
}

#[test]
fn mutating_actions_are_tag_conditioned_or_explained() {
    let explained: BTreeMap<&str, &str> = UNCONDITIONED.iter().copied().collect();
    let mut seen_unconditioned = BTreeSet::new();
    for st in policy() {
        for action in &st.actions {
            let (prefix, op) = action.split_once(':').unwrap();
            if !["ec2", "elasticloadbalancing"].contains(&prefix) || !is_mutating(op) {
                continue;
            }
            if has_cluster_tag_condition(&st.condition) {
                continue;
            }
            assert!(
                explained.contains_key(action.as_str()),
                "statement {}: {action} has no {CLUSTER_TAG} tag condition and no reason in \
                 UNCONDITIONED",
                st.sid
            );
            seen_unconditioned.insert(action.clone());
        }
    }
    let stale: Vec<&&str> = explained
        .keys()
        .filter(|a| !seen_unconditioned.contains(**a))
        .collect();
    assert!(
        stale.is_empty(),
        "UNCONDITIONED lists conditioned or absent actions: {stale:?}"
    );

    // Creates must carry the cluster tag: the create actions are allowed only with it (on the
    // resource they create).
    for create in [
        "ec2:CreateSecurityGroup",
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
    ] {
        for st in policy()
            .iter()
            .filter(|s| s.actions.iter().any(|a| a == create))
        {
            let on_created = st.resources.iter().any(|r| {
                r.contains(":security-group/")
                    || r.contains(":loadbalancer/")
                    || r.contains(":targetgroup/")
            });
            if on_created {
                assert_eq!(
                    st.condition["Null"][format!("aws:RequestTag/{CLUSTER_TAG}")],
                    "false",
                    "{}: {create} must require the cluster tag in the request",
                    st.sid
                );
            }
        }
    }

    // Unconditioned ELBv2 tag changes reach listeners and rules only.
    for st in policy() {
        let tags = st
            .actions
            .iter()
            .any(|a| a == "elasticloadbalancing:AddTags" || a == "elasticloadbalancing:RemoveTags");
        if tags && !has_cluster_tag_condition(&st.condition) {
            assert!(
                st.resources
                    .iter()
                    .all(|r| r.contains(":listener/") || r.contains(":listener-rule/")),
                "{}: unconditioned tag changes on {:?}",
                st.sid,
                st.resources
            );
        }
    }
}

#[test]
fn route53_writes_are_scoped_to_hosted_zones() {
    for st in policy() {
        for action in st.actions.iter().filter(|a| a.starts_with("route53:")) {
            let want: &[&str] = if action == "route53:ListHostedZones" {
                &["*"]
            } else {
                &["arn:aws:route53:::hostedzone/*"]
            };
            assert_eq!(st.resources, want, "{}: {action}", st.sid);
        }
    }
}

#[test]
fn every_documented_action_is_in_the_readme() {
    let readme = std::fs::read_to_string(repo().join("iam-policies/README.md")).unwrap();
    for action in policy_actions() {
        assert!(
            readme.contains(&format!("`{action}`")),
            "iam-policies/README.md does not explain {action}"
        );
    }
}

fn recorded_operations(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Run by `scripts/test.sh` after the suites, with `AWS_LB_OPERATOR_RECORD_CALLS` naming the
/// file every test process recorded its AWS operations in.
#[test]
#[ignore = "reads the operations recorded by a full test run; scripts/test.sh runs it"]
fn iam_policy_matches_the_recorded_operations() {
    let path = std::env::var_os(RECORD_CALLS_ENV).unwrap_or_else(|| {
        panic!(
            "{RECORD_CALLS_ENV} is not set: run scripts/test.sh, or run the suites with \
             {RECORD_CALLS_ENV}=<file> first and then this test with the same variable"
        )
    });
    let recorded = recorded_operations(Path::new(&path));
    assert!(
        recorded.len() > 10,
        "only {} operations recorded in {path:?}: did the LocalStack suites run?",
        recorded.len()
    );
    let operator = operator_operations();
    let setup: BTreeSet<&str> = TEST_SETUP_ONLY.iter().copied().collect();
    for op in &setup {
        assert!(
            !operator.contains(*op),
            "TEST_SETUP_ONLY lists {op}, but src/aws calls it: it needs a policy action instead"
        );
    }
    let actions = policy_actions();
    let mut denied = Vec::new();
    let mut used = BTreeSet::new();
    for op in &recorded {
        let Some(action) = iam_action(op) else {
            panic!("{op}: an AWS service the policy does not know (add it to SERVICES)");
        };
        if actions.contains(&action) {
            used.insert(action);
        } else if !setup.contains(op.as_str()) {
            denied.push(op.clone());
        }
    }
    assert!(
        denied.is_empty(),
        "the suites called operations {POLICY} does not allow: {denied:?} (test fixtures belong \
         in TEST_SETUP_ONLY; operator calls need policy actions)"
    );
    let not_exercised: BTreeMap<&str, &str> = NOT_EXERCISED.iter().copied().collect();
    let unexercised: Vec<&String> = actions
        .iter()
        .filter(|a| !used.contains(*a) && !not_exercised.contains_key(a.as_str()))
        .collect();
    assert!(
        unexercised.is_empty(),
        "no suite exercised {unexercised:?}: add a LocalStack test that does, or list the action \
         in NOT_EXERCISED with the reason it cannot be"
    );
    for (action, _) in NOT_EXERCISED {
        assert!(
            actions.contains(*action),
            "NOT_EXERCISED lists {action}, not in the policy"
        );
        assert!(
            !used.contains(*action),
            "NOT_EXERCISED lists {action}, but the suites exercised it: remove it from the table"
        );
    }
    eprintln!(
        "{} recorded operations; {} of {} policy actions exercised, {} listed as not exercisable",
        recorded.len(),
        used.len(),
        actions.len(),
        NOT_EXERCISED.len()
    );
}
