//! What the IAM policy evaluator needs to know of every call: the resources it acted on (ARNs),
//! the tags those resources carried at the time (as this process last saw them), and the tags
//! the request carried. Written only when [`super::RECORD_CALLS_ENV`] is set (the test command
//! sets it), as JSON lines to the file named by that variable with [`DETAILS_SUFFIX`] appended,
//! each distinct line once per process. Never fails and never changes a call: an I/O error is
//! logged at debug.
//!
//! The resource tags come from the responses the process already receives (ELBv2 DescribeTags,
//! EC2 DescribeSecurityGroups), from the tags of the resources it created, and from its own tag
//! changes. A resource whose tags this process never saw is recorded with `tags: null`.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError};

use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::create_listener::CreateListenerOutput;
use aws_sdk_elasticloadbalancingv2::operation::create_load_balancer::CreateLoadBalancerOutput;
use aws_sdk_elasticloadbalancingv2::operation::create_rule::CreateRuleOutput;
use aws_sdk_elasticloadbalancingv2::operation::create_target_group::CreateTargetGroupOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
use aws_smithy_runtime_api::client::interceptors::context::Output;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::{Deserialize, Serialize};

use super::{is_mutating, Recorder, RECORD_CALLS_ENV};

/// Appended to the [`RECORD_CALLS_ENV`] path: the file of detailed records.
pub const DETAILS_SUFFIX: &str = ".details.jsonl";

/// Tags, key to value.
pub type TagMap = BTreeMap<String, String>;

/// A resource a call acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedResource {
    /// Its ARN (`unknown` stands for an account or id the process did not know).
    pub arn: String,
    /// Its tags before the call; `None` when this process never saw them.
    pub tags: Option<TagMap>,
}

/// One line of the details file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DetailRecord {
    /// A call the process made.
    #[serde(rename_all = "camelCase")]
    Call {
        /// `elbv2`, `ec2` or `route53`.
        service: String,
        /// The API operation, e.g. `CreateRule`.
        operation: String,
        /// The resources IAM authorizes the call on (none for reads, which take `*`).
        resources: Vec<RecordedResource>,
        /// Resources the call created (their tag-on-create is authorized too).
        created: Vec<String>,
        /// Tags (with values) the request carried.
        request_tags: TagMap,
        /// Tag keys the request carried (`aws:TagKeys`), removals included.
        tag_keys: Vec<String>,
        /// Route53 ChangeResourceRecordSets: the record names it changes, normalized as IAM's
        /// `route53:ChangeResourceRecordSetsNormalizedRecordNames` (lowercase, no final dot).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        record_names: Vec<String>,
        /// True when the call ended in an error.
        failed: bool,
    },
    /// A resource seen in a response, with its tags (the suites' foreign resources among them).
    Resource {
        /// Its ARN.
        arn: String,
        /// Its tags.
        tags: TagMap,
    },
}

/// The request of the call in flight, kept in the config bag until it ends.
#[derive(Debug, Clone)]
pub struct PendingCall {
    params: Vec<(String, String)>,
    record_names: Vec<String>,
    uri: String,
    region: String,
}

impl Storable for PendingCall {
    type Storer = StoreReplace<Self>;
}

impl PendingCall {
    /// The parameters of a query-protocol request (ELBv2, EC2, STS) and its URI (Route53).
    pub fn new(service: &str, request: &HttpRequest, cfg: &ConfigBag) -> Self {
        let params = match (service, request.body().bytes()) {
            ("elbv2" | "ec2" | "sts", Some(body)) => {
                form_urlencoded::parse(body).into_owned().collect()
            }
            _ => Vec::new(),
        };
        let record_names = match (service, request.body().bytes()) {
            ("route53", Some(body)) => record_names(&String::from_utf8_lossy(body)),
            _ => Vec::new(),
        };
        PendingCall {
            params,
            record_names,
            uri: request.uri().to_owned(),
            region: cfg
                .load::<aws_config::Region>()
                .map_or_else(|| "unknown".to_owned(), |r| r.to_string()),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Values of `prefix.N<suffix>` for N = 1, 2, ..., in order.
    fn list(&self, prefix: &str, suffix: &str) -> Vec<&str> {
        (1..)
            .map_while(|n| self.get(&format!("{prefix}.{n}{suffix}")))
            .collect()
    }
}

/// The `<Name>` of every `<ResourceRecordSet>` in a ChangeResourceRecordSets body, normalized.
fn record_names(xml: &str) -> Vec<String> {
    let mut names: Vec<String> = xml
        .split("<ResourceRecordSet>")
        .skip(1)
        .filter_map(|set| {
            let start = set.find("<Name>")? + "<Name>".len();
            let end = start + set[start..].find("</Name>")?;
            Some(set[start..end].trim_end_matches('.').to_lowercase())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[derive(Debug, Default)]
struct Known {
    /// [`key`] of an ARN → tags.
    tags: HashMap<String, TagMap>,
    /// Security group id → owning account.
    sg_owner: HashMap<String, String>,
}

struct State {
    recorder: Recorder,
    known: Mutex<Known>,
}

fn state() -> Option<&'static State> {
    static STATE: OnceLock<Option<State>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            std::env::var_os(RECORD_CALLS_ENV)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let mut path = p;
                    path.push(DETAILS_SUFFIX);
                    State {
                        recorder: Recorder::new(path.into()),
                        known: Mutex::new(Known::default()),
                    }
                })
        })
        .as_ref()
}

/// True when calls are being recorded.
pub fn enabled() -> bool {
    state().is_some()
}

fn tag_map<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> TagMap {
    pairs
        .filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned())))
        .collect()
}

/// The key of a resource in [`Known::tags`]: its ARN, but only the id of a security group (whose
/// ARN's account may be learnt after its tags).
fn key(arn: &str) -> String {
    match arn.split_once(":security-group/") {
        Some((_, id)) => format!("security-group/{id}"),
        None => arn.to_owned(),
    }
}

fn sg_arn(known: &Known, region: &str, id: &str) -> String {
    let owner = known.sg_owner.get(id).map_or("unknown", String::as_str);
    format!("arn:aws:ec2:{region}:{owner}:security-group/{id}")
}

/// Records the call `service.operation` that just ended (`output` when it succeeded).
pub fn record(
    service: &str,
    operation: &str,
    pending: Option<&PendingCall>,
    output: Option<&Output>,
) {
    let Some(state) = state() else {
        return;
    };
    let mut lines = Vec::new();
    let mut known = state.known.lock().unwrap_or_else(PoisonError::into_inner);
    // What responses tell of resources, the suites' foreign ones included.
    if let Some(out) = output.and_then(|o| o.downcast_ref::<DescribeTagsOutput>()) {
        for d in out.tag_descriptions() {
            let Some(arn) = d.resource_arn() else {
                continue;
            };
            let tags = tag_map(d.tags().iter().map(|t| (t.key(), t.value())));
            lines.push(DetailRecord::Resource {
                arn: arn.to_owned(),
                tags: tags.clone(),
            });
            known.tags.insert(key(arn), tags);
        }
    }
    if let (Some(out), Some(p)) = (
        output.and_then(|o| o.downcast_ref::<DescribeSecurityGroupsOutput>()),
        pending,
    ) {
        for sg in out.security_groups() {
            let Some(id) = sg.group_id() else { continue };
            if let Some(owner) = sg.owner_id() {
                known.sg_owner.insert(id.to_owned(), owner.to_owned());
            }
            let arn = sg_arn(&known, &p.region, id);
            let tags = tag_map(sg.tags().iter().map(|t| (t.key(), t.value())));
            lines.push(DetailRecord::Resource {
                arn: arn.clone(),
                tags: tags.clone(),
            });
            known.tags.insert(key(&arn), tags);
        }
    }

    let call = pending.map(|p| call_record(service, operation, p, output, &known));
    if let (
        Some(DetailRecord::Call {
            resources,
            created,
            request_tags,
            tag_keys,
            failed: false,
            ..
        }),
        true,
    ) = (&call, is_mutating(operation))
    {
        // What this call changed, for the calls after it.
        for arn in created {
            known.tags.insert(key(arn), request_tags.clone());
        }
        let removes = matches!(operation, "RemoveTags" | "DeleteTags");
        let adds = matches!(operation, "AddTags" | "CreateTags");
        for r in resources.iter().filter(|_| adds || removes) {
            let tags = known.tags.entry(key(&r.arn)).or_default();
            if adds {
                tags.extend(request_tags.clone());
            } else {
                for k in tag_keys {
                    tags.remove(k);
                }
            }
        }
    }
    drop(known);
    lines.extend(call);
    for line in lines {
        match serde_json::to_string(&line) {
            Ok(text) => state.recorder.record(&text),
            Err(e) => tracing::debug!(error = %e, "cannot serialise a call record"),
        }
    }
}

fn call_record(
    service: &str,
    operation: &str,
    p: &PendingCall,
    output: Option<&Output>,
    known: &Known,
) -> DetailRecord {
    let mut arns: Vec<String> = Vec::new();
    let mut created: Vec<String> = Vec::new();
    let mut request_tags = TagMap::new();
    let mut tag_keys: Vec<String> = Vec::new();
    let mutating = is_mutating(operation);
    match service {
        "elbv2" => {
            request_tags = tag_map(
                p.list("Tags.member", ".Key")
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| (Some(k), p.get(&format!("Tags.member.{}.Value", i + 1)))),
            );
            tag_keys = request_tags.keys().cloned().collect();
            tag_keys.extend(p.list("TagKeys.member", "").into_iter().map(str::to_owned));
            if mutating {
                for key in [
                    "LoadBalancerArn",
                    "ListenerArn",
                    "RuleArn",
                    "TargetGroupArn",
                ] {
                    arns.extend(p.get(key).map(str::to_owned));
                }
                arns.extend(
                    p.list("ResourceArns.member", "")
                        .into_iter()
                        .map(str::to_owned),
                );
                arns.extend(
                    p.list("RulePriorities.member", ".RuleArn")
                        .into_iter()
                        .map(str::to_owned),
                );
            }
            created = elbv2_created(operation, p, output);
            if matches!(operation, "CreateLoadBalancer" | "CreateTargetGroup") {
                // IAM authorizes these creates on the resource they create.
                arns.extend(created.iter().cloned());
            }
        }
        "ec2" => {
            let spec = p.list("TagSpecification.1.Tag", ".Key");
            let plain = p.list("Tag", ".Key");
            let (keys, prefix) = if spec.is_empty() {
                (plain, "Tag")
            } else {
                (spec, "TagSpecification.1.Tag")
            };
            request_tags = tag_map(
                keys.into_iter()
                    .enumerate()
                    .map(|(i, k)| (Some(k), p.get(&format!("{prefix}.{}.Value", i + 1)))),
            );
            tag_keys = request_tags.keys().cloned().collect();
            if mutating {
                arns.extend(p.get("GroupId").map(|id| sg_arn(known, &p.region, id)));
                arns.extend(
                    p.list("ResourceId", "")
                        .into_iter()
                        .map(|id| sg_arn(known, &p.region, id)),
                );
                if operation == "CreateSecurityGroup" {
                    if let Some(vpc) = p.get("VpcId") {
                        arns.push(format!("arn:aws:ec2:{}:unknown:vpc/{vpc}", p.region));
                    }
                    let id = output
                        .and_then(|o| o.downcast_ref::<CreateSecurityGroupOutput>())
                        .and_then(|o| o.group_id())
                        .unwrap_or("unknown");
                    let arn = sg_arn(known, &p.region, id);
                    created.push(arn.clone());
                    arns.push(arn);
                }
            }
        }
        "sts" => {
            // AssumeRole is authorized on the role.
            arns.extend(p.get("RoleArn").map(str::to_owned));
        }
        _ => {
            // Route53: /2013-04-01/hostedzone/<id>/rrset...
            if let Some(rest) = p.uri.split("/hostedzone/").nth(1) {
                let id = rest.split(['/', '?']).next().unwrap_or_default();
                if !id.is_empty() {
                    arns.push(format!("arn:aws:route53:::hostedzone/{id}"));
                }
            }
        }
    }
    let resources = arns
        .into_iter()
        .map(|arn| RecordedResource {
            tags: if created.contains(&arn) {
                None
            } else {
                known.tags.get(&key(&arn)).cloned()
            },
            arn,
        })
        .collect();
    DetailRecord::Call {
        service: service.to_owned(),
        operation: operation.to_owned(),
        resources,
        created,
        request_tags,
        tag_keys,
        record_names: p.record_names.clone(),
        failed: output.is_none(),
    }
}

/// The ARN an ELBv2 create made; for a failed create, the ARN it would have had with
/// `unknown` for what AWS would have chosen.
fn elbv2_created(operation: &str, p: &PendingCall, output: Option<&Output>) -> Vec<String> {
    let arn = match operation {
        "CreateLoadBalancer" => output
            .and_then(|o| o.downcast_ref::<CreateLoadBalancerOutput>())
            .and_then(|o| o.load_balancers().first())
            .and_then(|l| l.load_balancer_arn())
            .map(str::to_owned)
            .or_else(|| {
                let kind = match p.get("Type") {
                    Some("network") => "net",
                    _ => "app",
                };
                let name = p.get("Name").unwrap_or("unknown");
                Some(format!(
                    "arn:aws:elasticloadbalancing:{}:unknown:loadbalancer/{kind}/{name}/unknown",
                    p.region
                ))
            }),
        "CreateTargetGroup" => output
            .and_then(|o| o.downcast_ref::<CreateTargetGroupOutput>())
            .and_then(|o| o.target_groups().first())
            .and_then(|t| t.target_group_arn())
            .map(str::to_owned)
            .or_else(|| {
                let name = p.get("Name").unwrap_or("unknown");
                Some(format!(
                    "arn:aws:elasticloadbalancing:{}:unknown:targetgroup/{name}/unknown",
                    p.region
                ))
            }),
        "CreateListener" => output
            .and_then(|o| o.downcast_ref::<CreateListenerOutput>())
            .and_then(|o| o.listeners().first())
            .and_then(|l| l.listener_arn())
            .map(str::to_owned),
        "CreateRule" => output
            .and_then(|o| o.downcast_ref::<CreateRuleOutput>())
            .and_then(|o| o.rules().first())
            .and_then(|r| r.rule_arn())
            .map(str::to_owned),
        _ => None,
    };
    arn.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_are_normalized_like_iam() {
        let body = "<ChangeResourceRecordSetsRequest><ChangeBatch><Changes>\
            <Change><Action>UPSERT</Action><ResourceRecordSet><Name>Shop.Example.com.</Name>\
            <Type>A</Type><AliasTarget><DNSName>x.elb.amazonaws.com.</DNSName></AliasTarget>\
            </ResourceRecordSet></Change>\
            <Change><Action>UPSERT</Action><ResourceRecordSet><Name>a-shop.example.com</Name>\
            <Type>TXT</Type></ResourceRecordSet></Change>\
            <Change><Action>DELETE</Action><ResourceRecordSet><Name>shop.example.com</Name>\
            <Type>AAAA</Type></ResourceRecordSet></Change>\
            </Changes></ChangeBatch></ChangeResourceRecordSetsRequest>";
        assert_eq!(
            record_names(body),
            ["a-shop.example.com", "shop.example.com"]
        );
        assert!(record_names("<ListHostedZonesRequest/>").is_empty());
    }

    #[test]
    fn security_groups_are_known_by_id_whatever_the_account() {
        assert_eq!(
            key("arn:aws:ec2:eu-west-1:unknown:security-group/sg-1"),
            key("arn:aws:ec2:eu-west-1:111122223333:security-group/sg-1")
        );
        let lb = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/a/b";
        assert_eq!(key(lb), lb);
    }

    #[test]
    fn query_lists_are_read_in_order_until_the_first_gap() {
        let p = PendingCall {
            params: vec![
                ("Tags.member.2.Key".into(), "b".into()),
                ("Tags.member.1.Key".into(), "a".into()),
                ("Tags.member.4.Key".into(), "d".into()),
            ],
            record_names: Vec::new(),
            uri: String::new(),
            region: "eu-west-1".into(),
        };
        assert_eq!(p.list("Tags.member", ".Key"), ["a", "b"]);
        assert_eq!(p.get("Tags.member.4.Key"), Some("d"));
    }
}
