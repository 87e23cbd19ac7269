//! `alb.ingress.kubernetes.io/conditions.<service name>`: extra rule conditions, as JSON.
use serde::Deserialize;

use super::annotations::{is_cidr, json_reason, Annotations, CONDITIONS_PREFIX};
use super::error::{invalid_annotation, shown, BuildError};
use super::rule::{path_chars_ok, MAX_HOST_LEN, MAX_PATH_PATTERN_LEN};
use crate::model::{ConditionSpec, QueryStringKeyValue};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    #[serde(default, alias = "Values")]
    values: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderConfig {
    #[serde(default, alias = "HTTPHeaderName", alias = "httpHeaderNAME")]
    http_header_name: String,
    #[serde(default, alias = "Values")]
    values: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryConfig {
    #[serde(default, alias = "Values")]
    values: Vec<QueryPair>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryPair {
    #[serde(default, alias = "Key")]
    key: Option<String>,
    #[serde(default, alias = "Value")]
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCondition {
    #[serde(alias = "Field")]
    field: String,
    #[serde(default, alias = "HostHeaderConfig")]
    host_header_config: Option<Values>,
    #[serde(default, alias = "PathPatternConfig")]
    path_pattern_config: Option<Values>,
    #[serde(default, alias = "HTTPHeaderConfig", alias = "HttpHeaderConfig")]
    http_header_config: Option<HeaderConfig>,
    #[serde(
        default,
        alias = "HTTPRequestMethodConfig",
        alias = "HttpRequestMethodConfig"
    )]
    http_request_method_config: Option<Values>,
    #[serde(default, alias = "QueryStringConfig")]
    query_string_config: Option<QueryConfig>,
    #[serde(
        default,
        alias = "SourceIPConfig",
        alias = "sourceIPConfig",
        alias = "SourceIpConfig"
    )]
    source_ip_config: Option<Values>,
}

/// What `conditions.<name>` must look like, said when the value is not such JSON at all.
pub const EXPECTED: &str = "a JSON list of conditions such as [{\"field\":\"http-header\",\"httpHeaderConfig\":{\"httpHeaderName\":\"x-env\",\"values\":[\"canary\"]}}]";

/// The condition fields.
const FIELDS: &str =
    "host-header, path-pattern, http-header, http-request-method, query-string or source-ip";

/// Parses `conditions.<service>` if present.
pub fn parse(a: &Annotations<'_>, service: &str) -> Result<Vec<ConditionSpec>, BuildError> {
    let key = format!("{CONDITIONS_PREFIX}{service}");
    let Some(raw) = a.raw(&key) else {
        return Ok(Vec::new());
    };
    // `detail` says what was expected, most specific first.
    let err = |detail: &str| invalid_annotation(a.object(), &key, raw, detail);
    let list: Vec<RawCondition> =
        serde_json::from_str(raw).map_err(|e| err(&format!("{EXPECTED} ({})", json_reason(&e))))?;
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let non_empty = |v: Option<Values>, name: &str| -> Result<Vec<String>, BuildError> {
            match v {
                Some(v) if !v.values.is_empty() && v.values.iter().all(|s| !s.is_empty()) => {
                    Ok(v.values)
                }
                _ => Err(err(&format!(
                    "{name} with non-empty values for field {}",
                    c.field
                ))),
            }
        };
        let spec = match c.field.as_str() {
            "host-header" => {
                let values = non_empty(c.host_header_config, "hostHeaderConfig")?;
                let ok = |v: &str| {
                    v.len() <= MAX_HOST_LEN
                        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*' | b'?'))
                };
                if let Some(bad) = values.iter().find(|v| !ok(v)) {
                    return Err(err(&format!(
                        "host-header values of at most {MAX_HOST_LEN} characters made of letters, digits and - . * ? only, not {}",
                        shown(bad)
                    )));
                }
                ConditionSpec::HostHeader { values }
            }
            "path-pattern" => {
                let values = non_empty(c.path_pattern_config, "pathPatternConfig")?;
                if let Some(bad) = values.iter().find(|v| v.len() > MAX_PATH_PATTERN_LEN || !path_chars_ok(v)) {
                    return Err(err(&format!(
                        "path-pattern values of at most {MAX_PATH_PATTERN_LEN} characters made of letters, digits and _ - . $ / ~ \" ' @ : + & * ? only, not {}",
                        shown(bad)
                    )));
                }
                ConditionSpec::PathPattern { values }
            }
            "http-request-method" => {
                let values = non_empty(c.http_request_method_config, "httpRequestMethodConfig")?;
                if !values.iter().all(|m| m.bytes().all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')) {
                    return Err(err("upper-case methods such as GET as http-request-method values"));
                }
                ConditionSpec::HttpRequestMethod { values }
            }
            "source-ip" => {
                let values = non_empty(c.source_ip_config, "sourceIpConfig")?;
                if !values.iter().all(|v| is_cidr(v)) {
                    return Err(err("CIDRs such as 192.168.0.0/16 as source-ip values"));
                }
                ConditionSpec::SourceIp { values }
            }
            "http-header" => match c.http_header_config {
                Some(h) if !h.http_header_name.is_empty() && !h.values.is_empty() => {
                    ConditionSpec::HttpHeader { http_header_name: h.http_header_name, values: h.values }
                }
                _ => return Err(err("httpHeaderConfig with httpHeaderName and non-empty values for field http-header")),
            },
            "query-string" => match c.query_string_config {
                Some(q) if !q.values.is_empty() && q.values.iter().all(|p| !p.value.is_empty()) => {
                    ConditionSpec::QueryString {
                        values: q.values.into_iter().map(|p| QueryStringKeyValue { key: p.key, value: p.value }).collect(),
                    }
                }
                _ => return Err(err("queryStringConfig with non-empty values for field query-string")),
            },
            other => return Err(err(&format!("field to be {FIELDS}, not {}", shown(other)))),
        };
        out.push(spec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::translate::error::ObjectRef;

    fn run(value: &str) -> Result<Vec<ConditionSpec>, BuildError> {
        let object = ObjectRef::namespaced("ingress", "shop", "web");
        let map: BTreeMap<String, String> =
            [(format!("{CONDITIONS_PREFIX}api"), value.to_owned())].into();
        parse(&Annotations::new(&object, Some(&map)), "api")
    }

    #[test]
    fn parses_every_field() {
        let got = run(r#"[
            {"field":"host-header","hostHeaderConfig":{"values":["a.example.com"]}},
            {"field":"path-pattern","pathPatternConfig":{"values":["/x"]}},
            {"field":"http-header","httpHeaderConfig":{"httpHeaderName":"x-env","values":["canary"]}},
            {"field":"http-request-method","httpRequestMethodConfig":{"Values":["GET","HEAD"]}},
            {"field":"query-string","queryStringConfig":{"values":[{"key":"v","value":"2"}]}},
            {"field":"source-ip","sourceIpConfig":{"values":["10.0.0.0/8"]}}
        ]"#)
        .unwrap();
        let fields: Vec<&str> = got.iter().map(ConditionSpec::field).collect();
        assert_eq!(
            fields,
            [
                "host-header",
                "path-pattern",
                "http-header",
                "http-request-method",
                "query-string",
                "source-ip"
            ]
        );
        assert_eq!(got[3].value_count(), 2);
    }

    #[test]
    fn absent_annotation_is_no_condition() {
        let object = ObjectRef::namespaced("ingress", "shop", "web");
        assert!(parse(&Annotations::new(&object, None), "api")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn errors() {
        struct Case {
            name: &'static str,
            value: &'static str,
            detail: &'static str,
        }
        let cases = [
            Case { name: "unknown field", value: r#"[{"field":"cookie"}]"#, detail: "field to be host-header, path-pattern, http-header, http-request-method, query-string or source-ip, not \"cookie\"" },
            Case {
                name: "missing config",
                value: r#"[{"field":"host-header"}]"#,
                detail: "hostHeaderConfig with non-empty values for field host-header",
            },
            Case {
                name: "bad cidr",
                value: r#"[{"field":"source-ip","sourceIpConfig":{"values":["10.0.0.1"]}}]"#,
                detail: "CIDRs such as 192.168.0.0/16 as source-ip values",
            },
            Case {
                name: "lower-case method",
                value: r#"[{"field":"http-request-method","httpRequestMethodConfig":{"values":["get"]}}]"#,
                detail: "upper-case methods such as GET as http-request-method values",
            },
            Case {
                name: "query string without values",
                value: r#"[{"field":"query-string","queryStringConfig":{"values":[]}}]"#,
                detail: "queryStringConfig with non-empty values for field query-string",
            },
            Case {
                name: "empty path pattern value",
                value: r#"[{"field":"path-pattern","pathPatternConfig":{"values":[""]}}]"#,
                detail: "pathPatternConfig with non-empty values for field path-pattern",
            },
            Case {
                name: "path pattern with a space",
                value: r#"[{"field":"path-pattern","pathPatternConfig":{"values":["/a b"]}}]"#,
                detail: "path-pattern values of at most 128 characters made of letters, digits and _ - . $ / ~ \" ' @ : + & * ? only, not \"/a b\"",
            },
            Case {
                name: "host header with a port",
                value: r#"[{"field":"host-header","hostHeaderConfig":{"values":["a.example.com:8080"]}}]"#,
                detail: "host-header values of at most 128 characters made of letters, digits and - . * ? only, not \"a.example.com:8080\"",
            },
            Case {
                name: "not a list",
                value: r#"{"field":"host-header"}"#,
                detail: "a JSON list of conditions such as [{\"field\":\"http-header\",\"httpHeaderConfig\":{\"httpHeaderName\":\"x-env\",\"values\":[\"canary\"]}}] (invalid type: JSON object, expected a JSON list at line 1 column 0)",
            },
            Case {
                name: "header without name",
                value: r#"[{"field":"http-header","httpHeaderConfig":{"values":["x"]}}]"#,
                detail: "httpHeaderConfig with httpHeaderName and non-empty values for field http-header",
            },
        ];
        for case in cases {
            let err = run(case.value).expect_err(case.name).to_string();
            let want = format!(
                "ingress shop/web: annotation alb.ingress.kubernetes.io/conditions.api has invalid value {:?}: expected {}",
                case.value, case.detail
            );
            assert_eq!(err, want, "{}", case.name);
        }
    }
}
