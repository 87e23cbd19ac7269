//! `IngressClassParams` (`elbv2.k8s.aws/v1beta1`, cluster-scoped) as plain serde types, and label
//! selector matching for its `namespaceSelector`.
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};

/// API version of IngressClassParams.
pub const API_VERSION: &str = "elbv2.k8s.aws/v1beta1";
/// Kind of IngressClassParams.
pub const KIND: &str = "IngressClassParams";

/// An IngressClassParams object (the fields this operator honours; others are ignored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressClassParams {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: IngressClassParamsSpec,
}

/// IngressClassParams spec. A field that is set beats the matching Ingress annotation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressClassParamsSpec {
    /// Namespaces allowed to use the class; others are refused.
    #[serde(default)]
    pub namespace_selector: Option<LabelSelector>,
    /// Puts every Ingress of the class into this group.
    #[serde(default)]
    pub group: Option<GroupParams>,
    /// `internal` or `internet-facing`.
    #[serde(default)]
    pub scheme: Option<String>,
    /// `ipv4`, `dualstack` or `dualstack-without-public-ipv4`.
    #[serde(default)]
    pub ip_address_type: Option<String>,
    /// Explicit load balancer name.
    #[serde(default)]
    pub load_balancer_name: Option<String>,
    /// Extra tags.
    #[serde(default)]
    pub tags: Option<Vec<KeyValue>>,
    /// Subnets by id or by tag filters.
    #[serde(default)]
    pub subnets: Option<SubnetSelector>,
    /// Source CIDRs for the managed security group.
    #[serde(default, rename = "inboundCIDRs")]
    pub inbound_cidrs: Option<Vec<String>>,
    /// Managed prefix lists let in on every listen port of the managed security group (beats
    /// the `security-group-prefix-lists` annotation, as LBC).
    #[serde(default, rename = "prefixListsIDs")]
    pub prefix_lists_ids: Option<Vec<String>>,
    /// The same under its older spelling (`PrefixListsIDs`), read when `prefixListsIDs` is not
    /// set, as LBC.
    #[serde(default, rename = "PrefixListsIDs")]
    pub prefix_lists_ids_legacy: Option<Vec<String>>,
    /// TLS policy of HTTPS listeners.
    #[serde(default)]
    pub ssl_policy: Option<String>,
    /// Certificate ARNs.
    #[serde(default)]
    pub certificate_arn: Option<Vec<String>>,
    /// Load balancer attributes.
    #[serde(default)]
    pub load_balancer_attributes: Option<Vec<KeyValue>>,
    /// `instance` or `ip`.
    #[serde(default)]
    pub target_type: Option<String>,
    /// WAFv2 web ACL ARN (or `none`) of the load balancers.
    #[serde(default)]
    pub wafv2_acl_arn: Option<String>,
}

/// `spec.group`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupParams {
    /// Group name.
    pub name: String,
}

/// `spec.subnets`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubnetSelector {
    /// Subnet ids.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Tag filters: key → accepted values.
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
}

/// A key/value pair (tags, attributes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// Whether `labels` satisfy `selector` (matchLabels and matchExpressions, ANDed).
///
/// An unknown operator matches nothing, so a typo refuses rather than admits.
#[must_use]
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_ok = selector.match_expressions.iter().flatten().all(|req| {
        let values = req.values.as_deref().unwrap_or_default();
        let current = labels.get(&req.key);
        match req.operator.as_str() {
            "In" => current.is_some_and(|v| values.contains(v)),
            "NotIn" => current.is_none_or(|v| !values.contains(v)),
            "Exists" => current.is_some(),
            "DoesNotExist" => current.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn req(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    #[test]
    fn selector_matching() {
        struct Case {
            name: &'static str,
            selector: LabelSelector,
            want: bool,
        }
        let labels: BTreeMap<String, String> = [
            ("team".to_owned(), "shop".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ]
        .into();
        let cases = [
            Case {
                name: "empty selector matches all",
                selector: LabelSelector::default(),
                want: true,
            },
            Case {
                name: "matchLabels equal",
                selector: LabelSelector {
                    match_labels: Some([("team".to_owned(), "shop".to_owned())].into()),
                    ..Default::default()
                },
                want: true,
            },
            Case {
                name: "matchLabels differ",
                selector: LabelSelector {
                    match_labels: Some([("team".to_owned(), "blog".to_owned())].into()),
                    ..Default::default()
                },
                want: false,
            },
            Case {
                name: "In",
                selector: LabelSelector {
                    match_expressions: Some(vec![req("env", "In", &["prod", "staging"])]),
                    ..Default::default()
                },
                want: true,
            },
            Case {
                name: "NotIn",
                selector: LabelSelector {
                    match_expressions: Some(vec![req("env", "NotIn", &["prod"])]),
                    ..Default::default()
                },
                want: false,
            },
            Case {
                name: "Exists",
                selector: LabelSelector {
                    match_expressions: Some(vec![req("team", "Exists", &[])]),
                    ..Default::default()
                },
                want: true,
            },
            Case {
                name: "DoesNotExist",
                selector: LabelSelector {
                    match_expressions: Some(vec![req("team", "DoesNotExist", &[])]),
                    ..Default::default()
                },
                want: false,
            },
            Case {
                name: "unknown operator refuses",
                selector: LabelSelector {
                    match_expressions: Some(vec![req("team", "Maybe", &[])]),
                    ..Default::default()
                },
                want: false,
            },
        ];
        for case in cases {
            assert_eq!(
                selector_matches(&case.selector, &labels),
                case.want,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn deserializes_the_crd_spelling() {
        let json = serde_json::json!({
            "apiVersion": "elbv2.k8s.aws/v1beta1",
            "kind": "IngressClassParams",
            "metadata": {"name": "p"},
            "spec": {
                "group": {"name": "g"},
                "inboundCIDRs": ["10.0.0.0/8"],
                "subnets": {"tags": {"tier": ["public"]}},
                "tags": [{"key": "team", "value": "shop"}],
                "unknownField": true
            }
        });
        let params: IngressClassParams = serde_json::from_value(json).unwrap();
        assert_eq!(params.spec.group.unwrap().name, "g");
        assert_eq!(params.spec.inbound_cidrs.unwrap(), vec!["10.0.0.0/8"]);
        assert_eq!(params.spec.subnets.unwrap().tags["tier"], vec!["public"]);
        assert_eq!(params.spec.tags.unwrap()[0].value, "shop");
    }
}
