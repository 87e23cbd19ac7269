//! The one read `route` needs beyond [`super::observe`]: the `RegexValues` of rule conditions.
//!
//! The observed model has no field for regular expressions (the operator never writes them), so
//! observe reads a condition that only has `RegexValues` as a condition without values. Only
//! the listeners holding such a condition are described again here, so `route` makes no extra
//! call for load balancers whose rules have no regular expressions.
use aws_lb_operator_core::planner::ObservedListener;
use aws_lb_operator_core::route::{RegexCondition, RouteCondition, RouteRule};
use aws_sdk_elasticloadbalancingv2::types::{Rule, RuleCondition};
use tracing::Instrument;

use super::error::Result;
use super::observe::{condition_of, rule_of};
use super::{elbv2, AwsClients};

/// Whether `listener` has a condition without values: one with `RegexValues`, which
/// [`rules_with_regex`] reads.
#[must_use]
pub fn needs_regex_read(listener: &ObservedListener) -> bool {
    listener
        .rules
        .iter()
        .any(|r| r.conditions.iter().any(|c| c.value_count() == 0))
}

/// One condition for the evaluator: its regular expressions when it has some, otherwise the
/// observed condition.
#[must_use]
pub fn route_condition_of(c: &RuleCondition) -> RouteCondition {
    let field = c.field().unwrap_or_default();
    let (regex, header) = match field {
        "host-header" => (
            c.host_header_config().map(|h| h.regex_values().to_vec()),
            None,
        ),
        "path-pattern" => (
            c.path_pattern_config().map(|p| p.regex_values().to_vec()),
            None,
        ),
        "http-header" => (
            c.http_header_config().map(|h| h.regex_values().to_vec()),
            c.http_header_config()
                .and_then(|h| h.http_header_name())
                .map(str::to_owned),
        ),
        _ => (None, None),
    };
    match regex.filter(|r| !r.is_empty()) {
        Some(regex_values) => RouteCondition::Regex(RegexCondition {
            field: field.to_owned(),
            http_header_name: header,
            regex_values,
        }),
        None => RouteCondition::Values(condition_of(c)),
    }
}

/// A non-default rule for the evaluator (`None` for the default rule).
#[must_use]
pub fn route_rule_of(r: &Rule) -> Option<RouteRule> {
    let observed = rule_of(r)?;
    Some(RouteRule {
        priority: observed.priority,
        conditions: r.conditions().iter().map(route_condition_of).collect(),
        actions: observed.actions,
    })
}

/// The rules of one listener, regular expressions included (one paginated DescribeRules).
pub async fn rules_with_regex(clients: &AwsClients, listener_arn: &str) -> Result<Vec<RouteRule>> {
    let rules = elbv2::describe_rules(&clients.elbv2, listener_arn)
        .instrument(tracing::debug_span!("route_read.rules", listener_arn))
        .await?;
    let mut out: Vec<RouteRule> = rules.iter().filter_map(route_rule_of).collect();
    out.sort_by_key(|r| r.priority);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use aws_lb_operator_core::model::ConditionSpec;
    use aws_sdk_elasticloadbalancingv2::types::{
        HostHeaderConditionConfig, HttpHeaderConditionConfig, PathPatternConditionConfig,
    };

    use super::*;

    #[test]
    fn regex_values_become_regex_conditions_and_the_rest_stays_as_observed() {
        let host = RuleCondition::builder()
            .field("host-header")
            .host_header_config(
                HostHeaderConditionConfig::builder()
                    .regex_values("^api\\.")
                    .build(),
            )
            .build();
        let header = RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name("User-Agent")
                    .regex_values("(?i)mobile")
                    .build(),
            )
            .build();
        let path = RuleCondition::builder()
            .field("path-pattern")
            .path_pattern_config(PathPatternConditionConfig::builder().values("/a/*").build())
            .build();
        let rule = Rule::builder()
            .rule_arn("arn:rule")
            .priority("7")
            .is_default(false)
            .conditions(host)
            .conditions(header)
            .conditions(path)
            .build();
        let got = route_rule_of(&rule).unwrap();
        assert_eq!(got.priority, 7);
        assert_eq!(
            got.conditions,
            vec![
                RouteCondition::Regex(RegexCondition {
                    field: "host-header".into(),
                    http_header_name: None,
                    regex_values: vec!["^api\\.".into()],
                }),
                RouteCondition::Regex(RegexCondition {
                    field: "http-header".into(),
                    http_header_name: Some("User-Agent".into()),
                    regex_values: vec!["(?i)mobile".into()],
                }),
                RouteCondition::Values(ConditionSpec::PathPattern {
                    values: vec!["/a/*".into()]
                }),
            ]
        );
        // What observe makes of the regex-only condition: no values, so it is read again.
        let observed = rule_of(&rule).unwrap();
        let listener = ObservedListener {
            rules: vec![observed],
            ..ObservedListener::default()
        };
        assert!(needs_regex_read(&listener));
        let plain = ObservedListener {
            rules: vec![rule_of(
                &Rule::builder()
                    .rule_arn("arn:plain")
                    .priority("1")
                    .conditions(
                        RuleCondition::builder()
                            .field("path-pattern")
                            .path_pattern_config(
                                PathPatternConditionConfig::builder().values("/b").build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .unwrap()],
            ..ObservedListener::default()
        };
        assert!(!needs_regex_read(&plain));
    }
}
