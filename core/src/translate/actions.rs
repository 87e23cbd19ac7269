//! `alb.ingress.kubernetes.io/actions.<name>`: custom actions (fixed-response, redirect, weighted
//! forward), used by backends whose service port name is `use-annotation`.
use serde::Deserialize;

use super::annotations::{is_arn, json_reason, Annotations, ACTIONS_PREFIX};
use super::error::{invalid_annotation, shown, BuildError};
use super::target_group::PortRef;
use crate::model::{FixedResponseSpec, RedirectSpec, StickinessSpec};

/// What `actions.<name>` must look like, said when the value is not such JSON at all.
pub const EXPECTED: &str = "a JSON object with \"type\" fixed-response, redirect or forward";

/// A target group ARN, for messages.
const TG_ARN_EXAMPLE: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/name/0123456789abcdef";

const CONTENT_TYPES: [&str; 5] = [
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAction {
    #[serde(alias = "Type")]
    r#type: String,
    #[serde(default, alias = "targetGroupArn", alias = "TargetGroupARN")]
    target_group_a_r_n: Option<String>,
    #[serde(default, alias = "TargetGroupName")]
    target_group_name: Option<String>,
    #[serde(default, alias = "FixedResponseConfig")]
    fixed_response_config: Option<RawFixed>,
    #[serde(default, alias = "RedirectConfig")]
    redirect_config: Option<RawRedirect>,
    #[serde(default, alias = "ForwardConfig")]
    forward_config: Option<RawForward>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFixed {
    #[serde(default, alias = "StatusCode")]
    status_code: String,
    #[serde(default, alias = "ContentType")]
    content_type: Option<String>,
    #[serde(default, alias = "MessageBody")]
    message_body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRedirect {
    #[serde(default, alias = "Host")]
    host: Option<String>,
    #[serde(default, alias = "Path")]
    path: Option<String>,
    #[serde(default, alias = "Port")]
    port: Option<String>,
    #[serde(default, alias = "Protocol")]
    protocol: Option<String>,
    #[serde(default, alias = "Query")]
    query: Option<String>,
    #[serde(default, alias = "StatusCode")]
    status_code: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawForward {
    #[serde(default, alias = "TargetGroups")]
    target_groups: Vec<RawTuple>,
    #[serde(default, alias = "TargetGroupStickinessConfig")]
    target_group_stickiness_config: Option<RawStickiness>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTuple {
    #[serde(default, alias = "targetGroupArn", alias = "TargetGroupARN")]
    target_group_a_r_n: Option<String>,
    #[serde(default, alias = "TargetGroupName")]
    target_group_name: Option<String>,
    #[serde(default, alias = "ServiceName")]
    service_name: Option<String>,
    #[serde(default, alias = "ServicePort")]
    service_port: Option<serde_json::Value>,
    #[serde(default, alias = "Weight")]
    weight: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStickiness {
    #[serde(default, alias = "Enabled")]
    enabled: Option<bool>,
    #[serde(default, alias = "DurationSeconds")]
    duration_seconds: Option<u32>,
}

/// Where a weighted forward sends traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardTarget {
    /// An existing target group by ARN.
    Arn(String),
    /// An existing target group by name.
    Name(String),
    /// A Service port in the Ingress's namespace (a target group of this stack).
    Service {
        /// Service name.
        name: String,
        /// Service port.
        port: PortRef,
    },
}

/// A parsed custom action, before Service backends are resolved to target groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedAction {
    /// Fixed response.
    FixedResponse(FixedResponseSpec),
    /// Redirect.
    Redirect(RedirectSpec),
    /// Weighted forward.
    Forward {
        /// Targets with weights.
        targets: Vec<(ForwardTarget, u32)>,
        /// Stickiness.
        stickiness: Option<StickinessSpec>,
    },
}

/// Parses `actions.<name>`; `Ok(None)` if the annotation is absent.
pub fn parse(
    a: &Annotations<'_>,
    name: &str,
    max_target_groups: usize,
) -> Result<Option<ParsedAction>, BuildError> {
    let key = format!("{ACTIONS_PREFIX}{name}");
    let Some(raw) = a.raw(&key) else {
        return Ok(None);
    };
    // `detail` says what was expected, most specific first.
    let err = |detail: &str| invalid_annotation(a.object(), &key, raw, detail);
    let action: RawAction =
        serde_json::from_str(raw).map_err(|e| err(&format!("{EXPECTED} ({})", json_reason(&e))))?;
    let parsed = match action.r#type.as_str() {
        "fixed-response" => {
            let cfg = action
                .fixed_response_config
                .ok_or_else(|| err("fixedResponseConfig for type fixed-response"))?;
            let code = cfg.status_code.as_bytes();
            if !(code.len() == 3
                && matches!(code.first(), Some(b'2' | b'4' | b'5'))
                && code.iter().all(u8::is_ascii_digit))
            {
                return Err(err(
                    "fixedResponseConfig.statusCode to be a 2XX, 4XX or 5XX code",
                ));
            }
            if let Some(ct) = &cfg.content_type {
                if !CONTENT_TYPES.contains(&ct.as_str()) {
                    return Err(err(&format!(
                        "fixedResponseConfig.contentType to be one of {}",
                        CONTENT_TYPES.join(", ")
                    )));
                }
            }
            if cfg.message_body.as_ref().is_some_and(|b| b.len() > 1024) {
                return Err(err(
                    "fixedResponseConfig.messageBody of at most 1024 characters",
                ));
            }
            ParsedAction::FixedResponse(FixedResponseSpec {
                status_code: cfg.status_code,
                content_type: cfg.content_type,
                message_body: cfg.message_body,
            })
        }
        "redirect" => {
            let cfg = action
                .redirect_config
                .ok_or_else(|| err("redirectConfig for type redirect"))?;
            if !matches!(cfg.status_code.as_str(), "HTTP_301" | "HTTP_302") {
                return Err(err("redirectConfig.statusCode to be HTTP_301 or HTTP_302"));
            }
            if let Some(p) = &cfg.protocol {
                if !matches!(p.as_str(), "HTTP" | "HTTPS" | "#{protocol}") {
                    return Err(err(
                        "redirectConfig.protocol to be HTTP, HTTPS or #{protocol}",
                    ));
                }
            }
            if let Some(p) = &cfg.port {
                if p != "#{port}" && !p.parse::<u16>().is_ok_and(|n| n > 0) {
                    return Err(err(
                        "redirectConfig.port to be a port from 1 to 65535 or #{port}",
                    ));
                }
            }
            ParsedAction::Redirect(RedirectSpec {
                protocol: cfg.protocol.unwrap_or_else(|| "#{protocol}".into()),
                port: cfg.port.unwrap_or_else(|| "#{port}".into()),
                host: cfg.host.unwrap_or_else(|| "#{host}".into()),
                path: cfg.path.unwrap_or_else(|| "/#{path}".into()),
                query: cfg.query.unwrap_or_else(|| "#{query}".into()),
                status_code: cfg.status_code,
            })
        }
        "forward" => {
            let mut targets = Vec::new();
            let mut stickiness = None;
            if let Some(arn) = action.target_group_a_r_n {
                if !is_arn(&arn, &["elasticloadbalancing"]) {
                    return Err(err(&format!(
                        "targetGroupARN to be a target group ARN such as {TG_ARN_EXAMPLE}, not {}",
                        shown(&arn)
                    )));
                }
                targets.push((ForwardTarget::Arn(arn), 1));
            } else if let Some(name) = action.target_group_name {
                targets.push((ForwardTarget::Name(name), 1));
            } else if let Some(fwd) = action.forward_config {
                for t in fwd.target_groups {
                    let weight = match t.weight {
                        None => 1,
                        Some(w) => u32::try_from(w)
                            .ok()
                            .filter(|w| *w <= 999)
                            .ok_or_else(|| err("weights from 0 to 999"))?,
                    };
                    let target = match (t.target_group_a_r_n, t.target_group_name, t.service_name) {
                        (Some(arn), None, None) => {
                            if !is_arn(&arn, &["elasticloadbalancing"]) {
                                return Err(err(&format!(
                                    "forwardConfig.targetGroups[].targetGroupARN to be a target group ARN such as {TG_ARN_EXAMPLE}, not {}", shown(&arn)
                                )));
                            }
                            ForwardTarget::Arn(arn)
                        }
                        (None, Some(name), None) => ForwardTarget::Name(name),
                        (None, None, Some(svc)) => {
                            let port = match t.service_port {
                                Some(serde_json::Value::Number(n)) => n
                                    .as_i64()
                                    .and_then(|n| i32::try_from(n).ok())
                                    .map(PortRef::Number),
                                Some(serde_json::Value::String(s)) => Some(match s.parse::<i32>() {
                                    Ok(n) => PortRef::Number(n),
                                    Err(_) => PortRef::Name(s),
                                }),
                                _ => None,
                            }
                            .ok_or_else(|| err("servicePort (a number or a port name) with serviceName"))?;
                            ForwardTarget::Service { name: svc, port }
                        }
                        _ => {
                            return Err(err(
                                "exactly one of targetGroupARN, targetGroupName or serviceName in each target group",
                            ))
                        }
                    };
                    targets.push((target, weight));
                }
                stickiness = fwd.target_group_stickiness_config.map(|s| StickinessSpec {
                    enabled: s.enabled.unwrap_or(false),
                    duration_seconds: s.duration_seconds,
                });
            }
            if targets.is_empty() {
                return Err(err("at least one target group for type forward (targetGroupARN, targetGroupName or forwardConfig.targetGroups)"));
            }
            if targets.iter().all(|(_, w)| *w == 0) {
                return Err(err(
                    "at least one target group with a weight above 0 (all weights are 0, so nothing would get traffic)",
                ));
            }
            if targets.len() > max_target_groups {
                return Err(err(&format!(
                    "at most {max_target_groups} target groups per forward action (AWS quota), not {}",
                    targets.len()
                )));
            }
            ParsedAction::Forward {
                targets,
                stickiness,
            }
        }
        other if other.starts_with("authenticate") => {
            // LBC has no such action type either: authentication goes before a backend's
            // action through the auth-* annotations.
            return Err(err(&format!(
                "type fixed-response, redirect or forward, not {} (authentication is set with annotations {} and {} or {}, which put it before the backend's action on HTTPS listeners)",
                shown(other),
                super::auth::AUTH_TYPE,
                super::auth::AUTH_IDP_COGNITO,
                super::auth::AUTH_IDP_OIDC,
            )));
        }
        other => {
            return Err(err(&format!(
                "type fixed-response, redirect or forward, not {}",
                shown(other)
            )))
        }
    };
    Ok(Some(parsed))
}

/// Names of the Services an Ingress refers to, in its namespace: the Services of its backends
/// (default backend and every rule path) and the `serviceName` of every weighted forward in
/// its `actions.*` annotations. Sorted, without repeats. An action that cannot be parsed refers
/// to nothing (the translation reports it).
///
/// This is what a caller must supply in a [`super::Snapshot`] for the Ingress to translate;
/// the controller copies only these Services (and LoadBalancer Services) out of its caches.
#[must_use]
pub fn referenced_services(ingress: &k8s_openapi::api::networking::v1::Ingress) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    if let Some(spec) = &ingress.spec {
        let backends = spec.default_backend.iter().chain(
            spec.rules
                .iter()
                .flatten()
                .filter_map(|r| r.http.as_ref())
                .flat_map(|h| h.paths.iter().map(|p| &p.backend)),
        );
        out.extend(backends.filter_map(|b| b.service.as_ref().map(|s| s.name.clone())));
    }
    let actions = ingress
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| k.starts_with(ACTIONS_PREFIX))
        .filter_map(|(_, v)| serde_json::from_str::<RawAction>(v).ok());
    for action in actions {
        let tuples = action
            .forward_config
            .into_iter()
            .flat_map(|f| f.target_groups);
        out.extend(tuples.filter_map(|t| t.service_name));
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::translate::error::ObjectRef;

    fn run(value: &str) -> Result<Option<ParsedAction>, BuildError> {
        let object = ObjectRef::namespaced("ingress", "shop", "web");
        let map: BTreeMap<String, String> =
            [(format!("{ACTIONS_PREFIX}blue-green"), value.to_owned())].into();
        parse(&Annotations::new(&object, Some(&map)), "blue-green", 5)
    }

    #[test]
    fn parses_each_type() {
        struct Case {
            name: &'static str,
            value: &'static str,
            want: ParsedAction,
        }
        let cases = [
            Case {
                name: "fixed response",
                value: r#"{"type":"fixed-response","fixedResponseConfig":{"contentType":"text/plain","statusCode":"503","messageBody":"down"}}"#,
                want: ParsedAction::FixedResponse(FixedResponseSpec {
                    status_code: "503".into(),
                    content_type: Some("text/plain".into()),
                    message_body: Some("down".into()),
                }),
            },
            Case {
                name: "redirect fills ELB defaults",
                value: r#"{"type":"redirect","redirectConfig":{"protocol":"HTTPS","port":"443","statusCode":"HTTP_301"}}"#,
                want: ParsedAction::Redirect(RedirectSpec {
                    protocol: "HTTPS".into(),
                    port: "443".into(),
                    host: "#{host}".into(),
                    path: "/#{path}".into(),
                    query: "#{query}".into(),
                    status_code: "HTTP_301".into(),
                }),
            },
            Case {
                name: "forward by arn shorthand",
                value: r#"{"type":"forward","targetGroupARN":"arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/x/1"}"#,
                want: ParsedAction::Forward {
                    targets: vec![(
                        ForwardTarget::Arn(
                            "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/x/1".into(),
                        ),
                        1,
                    )],
                    stickiness: None,
                },
            },
            Case {
                name: "weighted forward to services",
                value: r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"blue","servicePort":"80","weight":80},{"serviceName":"green","servicePort":"http","weight":20}],"targetGroupStickinessConfig":{"enabled":true,"durationSeconds":60}}}"#,
                want: ParsedAction::Forward {
                    targets: vec![
                        (
                            ForwardTarget::Service {
                                name: "blue".into(),
                                port: PortRef::Number(80),
                            },
                            80,
                        ),
                        (
                            ForwardTarget::Service {
                                name: "green".into(),
                                port: PortRef::Name("http".into()),
                            },
                            20,
                        ),
                    ],
                    stickiness: Some(StickinessSpec {
                        enabled: true,
                        duration_seconds: Some(60),
                    }),
                },
            },
        ];
        for case in cases {
            assert_eq!(run(case.value).unwrap(), Some(case.want), "{}", case.name);
        }
    }

    #[test]
    fn errors_name_the_problem() {
        struct Case {
            name: &'static str,
            value: &'static str,
            detail: &'static str,
        }
        let six = r#"{"type":"forward","forwardConfig":{"targetGroups":[{"targetGroupName":"a"},{"targetGroupName":"b"},{"targetGroupName":"c"},{"targetGroupName":"d"},{"targetGroupName":"e"},{"targetGroupName":"f"}]}}"#;
        let cases = [
            Case { name: "unknown type", value: r#"{"type":"lambda"}"#, detail: "type fixed-response, redirect or forward, not \"lambda\"" },
            Case { name: "authentication as an action", value: r#"{"type":"authenticate-oidc"}"#, detail: "type fixed-response, redirect or forward, not \"authenticate-oidc\" (authentication is set with annotations alb.ingress.kubernetes.io/auth-type and alb.ingress.kubernetes.io/auth-idp-cognito or alb.ingress.kubernetes.io/auth-idp-oidc, which put it before the backend's action on HTTPS listeners)" },
            Case {
                name: "bad status",
                value: r#"{"type":"fixed-response","fixedResponseConfig":{"statusCode":"302"}}"#,
                detail: "fixedResponseConfig.statusCode to be a 2XX, 4XX or 5XX code",
            },
            Case {
                name: "bad content type",
                value: r#"{"type":"fixed-response","fixedResponseConfig":{"statusCode":"200","contentType":"image/png"}}"#,
                detail: "fixedResponseConfig.contentType to be one of text/plain, text/css, text/html, application/javascript, application/json",
            },
            Case {
                name: "bad redirect code",
                value: r#"{"type":"redirect","redirectConfig":{"statusCode":"301"}}"#,
                detail: "redirectConfig.statusCode to be HTTP_301 or HTTP_302",
            },
            Case {
                name: "weight too high",
                value: r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a","servicePort":80,"weight":1000}]}}"#,
                detail: "weights from 0 to 999",
            },
            Case {
                name: "service without port",
                value: r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a"}]}}"#,
                detail: "servicePort (a number or a port name) with serviceName",
            },
            Case { name: "six target groups", value: six, detail: "at most 5 target groups per forward action (AWS quota), not 6" },
            Case { name: "empty forward", value: r#"{"type":"forward"}"#, detail: "at least one target group for type forward (targetGroupARN, targetGroupName or forwardConfig.targetGroups)" },
            Case {
                name: "fixed response without config",
                value: r#"{"type":"fixed-response"}"#,
                detail: "fixedResponseConfig for type fixed-response",
            },
            Case { name: "redirect without config", value: r#"{"type":"redirect"}"#, detail: "redirectConfig for type redirect" },
            Case {
                name: "bad redirect protocol",
                value: r#"{"type":"redirect","redirectConfig":{"protocol":"FTP","statusCode":"HTTP_301"}}"#,
                detail: "redirectConfig.protocol to be HTTP, HTTPS or #{protocol}",
            },
            Case {
                name: "bad redirect port",
                value: r#"{"type":"redirect","redirectConfig":{"port":"0","statusCode":"HTTP_302"}}"#,
                detail: "redirectConfig.port to be a port from 1 to 65535 or #{port}",
            },
            Case {
                name: "target group ARN that is not an ARN",
                value: r#"{"type":"forward","targetGroupARN":"my-tg"}"#,
                detail: "targetGroupARN to be a target group ARN such as arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/name/0123456789abcdef, not \"my-tg\"",
            },
            Case {
                name: "weighted target group ARN that is an ACM ARN",
                value: r#"{"type":"forward","forwardConfig":{"targetGroups":[{"targetGroupARN":"arn:aws:acm:eu-west-1:1:certificate/x"}]}}"#,
                detail: "forwardConfig.targetGroups[].targetGroupARN to be a target group ARN such as arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/name/0123456789abcdef, not \"arn:aws:acm:eu-west-1:1:certificate/x\"",
            },
            Case {
                name: "all weights 0",
                value: r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"a","servicePort":80,"weight":0},{"serviceName":"b","servicePort":80,"weight":0}]}}"#,
                detail: "at least one target group with a weight above 0 (all weights are 0, so nothing would get traffic)",
            },
            Case {
                name: "target group with two identities",
                value: r#"{"type":"forward","forwardConfig":{"targetGroups":[{"targetGroupName":"a","serviceName":"b","servicePort":80}]}}"#,
                detail: "exactly one of targetGroupARN, targetGroupName or serviceName in each target group",
            },
        ];
        for case in cases {
            let err = run(case.value).expect_err(case.name).to_string();
            let want = format!(
                "ingress shop/web: annotation alb.ingress.kubernetes.io/actions.blue-green has invalid value {:?}: expected {}",
                case.value, case.detail
            );
            assert_eq!(err, want, "{}", case.name);
        }

        let long = format!(
            r#"{{"type":"fixed-response","fixedResponseConfig":{{"statusCode":"200","messageBody":"{}"}}}}"#,
            "x".repeat(1025)
        );
        let err = run(&long).expect_err("long body").to_string();
        assert!(
            err.ends_with(": expected fixedResponseConfig.messageBody of at most 1024 characters"),
            "{err}"
        );

        // Not JSON: the parser's own message follows what was expected.
        let err = run("{type: forward}").expect_err("not json").to_string();
        assert_eq!(
            err,
            "ingress shop/web: annotation alb.ingress.kubernetes.io/actions.blue-green has invalid value \"{type: forward}\": expected a JSON object with \"type\" fixed-response, redirect or forward (key must be a string at line 1 column 2)"
        );
        // A JSON value of the wrong kind: said in JSON's words, not Rust's.
        let err = run(r#""forward""#).expect_err("a string").to_string();
        assert_eq!(
            err,
            r#"ingress shop/web: annotation alb.ingress.kubernetes.io/actions.blue-green has invalid value "\"forward\"": expected a JSON object with "type" fixed-response, redirect or forward (invalid type: string "forward", expected a JSON object at line 1 column 9)"#
        );
    }

    #[test]
    fn referenced_services_are_backends_and_forward_targets_of_actions() {
        struct Case {
            name: &'static str,
            ingress: serde_json::Value,
            want: &'static [&'static str],
        }
        let backend = |svc: &str| {
            serde_json::json!({"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": svc, "port": {"number": 80}}}})
        };
        let cases = [
            Case {
                name: "backends, default backend and a weighted forward",
                ingress: serde_json::json!({
                    "metadata": {"name": "web", "namespace": "shop", "annotations": {
                        "alb.ingress.kubernetes.io/actions.split": r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"blue","servicePort":"80"},{"serviceName":"green","servicePort":"80"}]}}"#
                    }},
                    "spec": {
                        "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}},
                        "rules": [{"http": {"paths": [backend("web"), backend("web")]}}]
                    }
                }),
                want: &["blue", "fallback", "green", "web"],
            },
            Case {
                name: "LBC's capitalised keys",
                ingress: serde_json::json!({
                    "metadata": {"name": "web", "namespace": "shop", "annotations": {
                        "alb.ingress.kubernetes.io/actions.split": r#"{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"blue","ServicePort":"80"}]}}"#
                    }},
                }),
                want: &["blue"],
            },
            Case {
                name: "serviceName outside an actions annotation, and target groups by name",
                ingress: serde_json::json!({
                    "metadata": {"name": "web", "namespace": "shop", "annotations": {
                        "example.com/notes": r#"{"serviceName":"other"}"#,
                        "alb.ingress.kubernetes.io/actions.tg": r#"{"type":"forward","targetGroupName":"tg"}"#
                    }},
                }),
                want: &[],
            },
            Case {
                name: "an action that is not JSON",
                ingress: serde_json::json!({
                    "metadata": {"name": "web", "namespace": "shop", "annotations": {
                        "alb.ingress.kubernetes.io/actions.bad": "{serviceName: blue}"
                    }},
                    "spec": {"rules": [{"http": {"paths": [backend("web")]}}]}
                }),
                want: &["web"],
            },
        ];
        for case in cases {
            let ingress: k8s_openapi::api::networking::v1::Ingress =
                serde_json::from_value(case.ingress).unwrap();
            assert_eq!(referenced_services(&ingress), case.want, "{}", case.name);
        }
    }
}
