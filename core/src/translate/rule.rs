//! Ingress paths and hosts → listener rules, and the order of rules across a whole listener.
//!
//! Order (Kubernetes Ingress spec first): `group.order`, then exact hosts before wildcard hosts
//! before no host, then longer paths before shorter, then Exact before Prefix before
//! ImplementationSpecific at equal length; remaining ties keep manifest order (member order,
//! then rule, then path). Priorities are 1..N per listener in that order.
use std::cmp::Reverse;

use super::error::ObjectRef;
use crate::model::{tags, ActionSpec, ConditionSpec, RuleSpec, StackId, TransformSpec};

/// Longest path pattern ALB accepts.
pub const MAX_PATH_PATTERN_LEN: usize = 128;

/// How specific a rule's host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostKind {
    /// `shop.example.com`.
    Exact,
    /// `*.example.com`.
    Wildcard,
    /// No host: matches any host.
    Any,
}

/// Ingress path types, in rule order at equal path length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathType {
    /// `Exact`.
    Exact,
    /// `Prefix`.
    Prefix,
    /// `ImplementationSpecific`.
    ImplementationSpecific,
}

impl PathType {
    /// Parses `pathType`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Exact" => Some(Self::Exact),
            "Prefix" => Some(Self::Prefix),
            "ImplementationSpecific" => Some(Self::ImplementationSpecific),
            _ => None,
        }
    }
}

/// What a host must look like.
pub const HOST_EXPECTED: &str =
    "a lower-case DNS name of at most 128 characters such as shop.example.com, or a wildcard such as *.example.com";

/// What a host that is an IP address is told.
pub const HOST_IP_EXPECTED: &str =
    "a DNS name such as shop.example.com, not an IP address (a host rule matches the Host header by name; leave host empty to match any host)";

/// Longest host-header condition value ALB accepts.
pub const MAX_HOST_LEN: usize = 128;

/// Whether `host` is an IP address (which Kubernetes refuses as an Ingress host).
#[must_use]
pub fn is_ip_host(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// Whether every character of a path is one ALB accepts in a path pattern: letters, digits,
/// `_ - . $ / ~ " ' @ : +`, `&`, and the wildcards `*` and `?`.
#[must_use]
pub fn path_chars_ok(path: &str) -> bool {
    path.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'_' | b'-'
                    | b'.'
                    | b'$'
                    | b'/'
                    | b'~'
                    | b'"'
                    | b'\''
                    | b'@'
                    | b':'
                    | b'+'
                    | b'&'
                    | b'*'
                    | b'?'
            )
    })
}

/// What a path must be made of.
pub const PATH_CHARS_EXPECTED: &str = "a path of letters, digits and _ - . $ / ~ \" ' @ : + & * ? only (what ALB accepts in a path pattern: no spaces, no %, no non-ASCII characters)";

/// Classifies and validates a host.
#[must_use]
pub fn host_kind(host: Option<&str>) -> Option<HostKind> {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return Some(HostKind::Any);
    };
    let (kind, name) = match host.strip_prefix("*.") {
        Some(rest) => (HostKind::Wildcard, rest),
        None => (HostKind::Exact, host),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (host.len() <= MAX_HOST_LEN && !is_ip_host(host) && name.split('.').all(label_ok))
        .then_some(kind)
}

/// Path patterns for one Ingress path. `Err` carries what was expected.
pub fn translate_path(
    path_type: PathType,
    path: Option<&str>,
) -> Result<Vec<String>, &'static str> {
    let path = path.unwrap_or_default();
    let has_wildcard = path.contains(['*', '?']);
    if !path.is_empty() && !path.starts_with('/') {
        return Err(match path_type {
            PathType::ImplementationSpecific => {
                "an absolute path (starting with /) or no path for pathType ImplementationSpecific"
            }
            PathType::Exact => {
                "an absolute path without wildcard characters (* or ?) for pathType Exact"
            }
            PathType::Prefix => {
                "an absolute path without wildcard characters (* or ?) for pathType Prefix"
            }
        });
    }
    if !path_chars_ok(path) {
        return Err(PATH_CHARS_EXPECTED);
    }
    let patterns = match path_type {
        PathType::ImplementationSpecific if path.is_empty() => Vec::new(),
        PathType::ImplementationSpecific => vec![path.to_owned()],
        PathType::Exact => {
            if !path.starts_with('/') || has_wildcard {
                return Err(
                    "an absolute path without wildcard characters (* or ?) for pathType Exact",
                );
            }
            vec![path.to_owned()]
        }
        PathType::Prefix => {
            if !path.starts_with('/') || has_wildcard {
                return Err(
                    "an absolute path without wildcard characters (* or ?) for pathType Prefix",
                );
            }
            // The spec ignores a trailing slash: /foo/ matches /foo and /foo/bar.
            let trimmed = path.trim_end_matches('/');
            if trimmed.is_empty() {
                vec!["/*".to_owned()]
            } else {
                vec![trimmed.to_owned(), format!("{trimmed}/*")]
            }
        }
    };
    if patterns.iter().any(|p| p.len() > MAX_PATH_PATTERN_LEN) {
        return Err("a path of at most 126 characters (ALB path patterns are limited to 128)");
    }
    Ok(patterns)
}

/// Path length for ordering: as written, except that a Prefix path's trailing slashes do not
/// count (`Prefix /foo/` is `/foo`, so it does not overtake `Exact /foo`); `Prefix /` stays 1.
#[must_use]
pub fn order_len(path_type: PathType, path: Option<&str>) -> usize {
    let path = path.unwrap_or_default();
    match path_type {
        PathType::Prefix => match path.trim_end_matches('/').len() {
            0 => path.len().min(1),
            n => n,
        },
        PathType::Exact | PathType::ImplementationSpecific => path.len(),
    }
}

/// Sort key of a rule; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleOrder {
    /// `group.order` of the member.
    pub group_order: i32,
    /// Host specificity.
    pub host: HostKind,
    /// Path length, longest first.
    pub path_len: Reverse<usize>,
    /// Path type at equal length.
    pub path_type: PathType,
    /// Position of the member in member order.
    pub member: usize,
    /// Index in `spec.rules`.
    pub rule: usize,
    /// Index in `http.paths`.
    pub path: usize,
    /// Length of the path as written (LBC's order sorts Prefix paths by it).
    pub written_len: usize,
}

/// How the rules of a listener are ordered (`--rule-order`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleOrdering {
    /// As the Kubernetes Ingress specification says (the module documentation).
    #[default]
    Spec,
    /// As the AWS Load Balancer Controller orders them: by member (group order, then
    /// namespace/name), then as written, except that within one rule's paths Exact paths
    /// come first, then Prefix paths longest first (as written, trailing slash included), then
    /// ImplementationSpecific paths (LBC's `sortIngressPaths`).
    Lbc,
}

impl RuleOrder {
    /// The sort key of [`RuleOrdering::Lbc`].
    #[must_use]
    pub fn lbc_key(&self) -> (i32, usize, usize, PathType, Reverse<usize>, usize) {
        let prefix_len = if self.path_type == PathType::Prefix {
            self.written_len
        } else {
            0
        };
        (
            self.group_order,
            self.member,
            self.rule,
            self.path_type,
            Reverse(prefix_len),
            self.path,
        )
    }
}

/// A rule before it has a priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRule {
    /// Sort key.
    pub order: RuleOrder,
    /// Conditions.
    pub conditions: Vec<ConditionSpec>,
    /// Actions.
    pub actions: Vec<ActionSpec>,
    /// Transforms (`transforms.<service>`).
    pub transforms: Vec<TransformSpec>,
    /// The authentication action that goes before `actions` on HTTPS listeners.
    pub auth: Option<ActionSpec>,
    /// The Ingress it came from.
    pub source: ObjectRef,
}

/// Orders rules and gives them priorities 1..N, tagged like LBC (`port:priority`), each with
/// the user tags of the Ingress it came from (`user_tags`).
#[must_use]
pub fn prioritise(
    mut rules: Vec<PendingRule>,
    port: u16,
    cluster: &str,
    stack: &StackId,
    user_tags: &dyn Fn(&ObjectRef) -> std::collections::BTreeMap<String, String>,
    ordering: RuleOrdering,
) -> Vec<RuleSpec> {
    match ordering {
        RuleOrdering::Spec => rules.sort_by_key(|r| r.order),
        RuleOrdering::Lbc => rules.sort_by_key(|r| r.order.lbc_key()),
    }
    rules
        .into_iter()
        .zip(1u32..)
        .map(|(r, priority)| RuleSpec {
            priority,
            conditions: r.conditions,
            actions: r.actions,
            tags: tags::with_tracking(
                &user_tags(&r.source),
                cluster,
                stack,
                &format!("{port}:{priority}"),
            ),
            transforms: r.transforms,
            source: r.source.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_translation() {
        struct Case {
            name: &'static str,
            path_type: PathType,
            path: Option<&'static str>,
            want: Result<Vec<&'static str>, &'static str>,
        }
        let exact_err = "an absolute path without wildcard characters (* or ?) for pathType Exact";
        let prefix_err =
            "an absolute path without wildcard characters (* or ?) for pathType Prefix";
        let cases = [
            Case {
                name: "prefix /foo",
                path_type: PathType::Prefix,
                path: Some("/foo"),
                want: Ok(vec!["/foo", "/foo/*"]),
            },
            Case {
                name: "prefix root",
                path_type: PathType::Prefix,
                path: Some("/"),
                want: Ok(vec!["/*"]),
            },
            Case {
                name: "prefix trailing slash",
                path_type: PathType::Prefix,
                path: Some("/foo/"),
                want: Ok(vec!["/foo", "/foo/*"]),
            },
            Case {
                name: "prefix wildcard rejected",
                path_type: PathType::Prefix,
                path: Some("/f*"),
                want: Err(prefix_err),
            },
            Case {
                name: "prefix relative rejected",
                path_type: PathType::Prefix,
                path: Some("foo"),
                want: Err(prefix_err),
            },
            Case {
                name: "exact literal",
                path_type: PathType::Exact,
                path: Some("/healthz"),
                want: Ok(vec!["/healthz"]),
            },
            Case {
                name: "exact star rejected",
                path_type: PathType::Exact,
                path: Some("/a*"),
                want: Err(exact_err),
            },
            Case {
                name: "exact question mark rejected",
                path_type: PathType::Exact,
                path: Some("/a?"),
                want: Err(exact_err),
            },
            Case {
                name: "exact missing",
                path_type: PathType::Exact,
                path: None,
                want: Err(exact_err),
            },
            Case {
                name: "implementation specific as written",
                path_type: PathType::ImplementationSpecific,
                path: Some("/img/*.png"),
                want: Ok(vec!["/img/*.png"]),
            },
            Case {
                name: "implementation specific relative rejected",
                path_type: PathType::ImplementationSpecific,
                path: Some("img/*.png"),
                want: Err("an absolute path (starting with /) or no path for pathType ImplementationSpecific"),
            },
            Case {
                name: "space rejected",
                path_type: PathType::Prefix,
                path: Some("/my path"),
                want: Err(PATH_CHARS_EXPECTED),
            },
            Case {
                name: "non-ASCII rejected",
                path_type: PathType::ImplementationSpecific,
                path: Some("/caf\u{e9}"),
                want: Err(PATH_CHARS_EXPECTED),
            },
            Case {
                name: "percent rejected",
                path_type: PathType::Exact,
                path: Some("/a%20b"),
                want: Err(PATH_CHARS_EXPECTED),
            },
            Case {
                name: "every allowed character",
                path_type: PathType::ImplementationSpecific,
                path: Some("/aZ09_-.$/~\"'@:+&*?"),
                want: Ok(vec!["/aZ09_-.$/~\"'@:+&*?"]),
            },
            Case {
                name: "implementation specific empty",
                path_type: PathType::ImplementationSpecific,
                path: None,
                want: Ok(vec![]),
            },
        ];
        for case in cases {
            let got = translate_path(case.path_type, case.path);
            let want = case
                .want
                .map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
            assert_eq!(got, want, "{}", case.name);
        }
        let long = format!("/{}", "a".repeat(130));
        assert!(
            translate_path(PathType::Exact, Some(&long)).is_err(),
            "over-long path"
        );
    }

    #[test]
    fn host_kinds() {
        struct Case {
            name: &'static str,
            host: Option<&'static str>,
            want: Option<HostKind>,
        }
        let cases = [
            Case {
                name: "exact",
                host: Some("shop.example.com"),
                want: Some(HostKind::Exact),
            },
            Case {
                name: "wildcard",
                host: Some("*.example.com"),
                want: Some(HostKind::Wildcard),
            },
            Case {
                name: "none",
                host: None,
                want: Some(HostKind::Any),
            },
            Case {
                name: "empty is none",
                host: Some(""),
                want: Some(HostKind::Any),
            },
            Case {
                name: "upper case rejected",
                host: Some("Shop.example.com"),
                want: None,
            },
            Case {
                name: "inner wildcard rejected",
                host: Some("a.*.example.com"),
                want: None,
            },
            Case {
                name: "bare star rejected",
                host: Some("*"),
                want: None,
            },
            Case {
                name: "IPv4 address rejected",
                host: Some("10.0.0.1"),
                want: None,
            },
        ];
        for case in cases {
            assert_eq!(host_kind(case.host), case.want, "{}", case.name);
        }
        // ALB's limit for a host-header value is 128 characters.
        let label = "a".repeat(63);
        let h128 = format!("{label}.{}.a", "a".repeat(62));
        assert_eq!(h128.len(), 128);
        assert_eq!(
            host_kind(Some(&h128)),
            Some(HostKind::Exact),
            "128 characters"
        );
        let h129 = format!("{label}.{label}.a");
        assert_eq!(host_kind(Some(&h129)), None, "129 characters");
    }

    #[test]
    fn order_length_ignores_a_prefix_trailing_slash() {
        let cases = [
            (PathType::Prefix, Some("/foo/"), 4),
            (PathType::Prefix, Some("/foo"), 4),
            (PathType::Prefix, Some("/"), 1),
            (PathType::Exact, Some("/foo/"), 5),
            (PathType::ImplementationSpecific, Some("/"), 1),
            (PathType::ImplementationSpecific, None, 0),
        ];
        for (path_type, path, want) in cases {
            assert_eq!(order_len(path_type, path), want, "{path_type:?} {path:?}");
        }
    }

    /// LBC's `Test_defaultModelBuildTask_sortIngressPath` (pkg/ingress/
    /// model_build_listener_rules_test.go): within one rule, Exact first, then Prefix longest
    /// first (stable), then ImplementationSpecific as written.
    #[test]
    fn lbc_order_within_a_rule_matches_lbc_sort_ingress_paths() {
        use PathType::{Exact as E, ImplementationSpecific as I, Prefix as P};
        type Case = (
            &'static str,
            Vec<(PathType, &'static str)>,
            Vec<&'static str>,
        );
        let cases: [Case; 5] = [
            (
                "Prefix path only",
                vec![(P, "/abc"), (P, "/example"), (P, "/tea")],
                vec!["/example", "/abc", "/tea"],
            ),
            (
                "ImplementationSpecific path only",
                vec![(I, ""), (I, "/a"), (I, "/test")],
                vec!["", "/a", "/test"],
            ),
            (
                "Exact and prefix paths",
                vec![
                    (P, "/abc"),
                    (E, "/aaa"),
                    (P, "/aaa/bbb"),
                    (P, "/abc/abc/abc"),
                ],
                vec!["/aaa", "/abc/abc/abc", "/aaa/bbb", "/abc"],
            ),
            (
                "Prefix and ImplementationSpecific paths",
                vec![(I, "/b"), (I, "/ccc"), (P, "/aaa"), (P, "/example")],
                vec!["/example", "/aaa", "/b", "/ccc"],
            ),
            (
                "All three types",
                vec![
                    (I, "/b"),
                    (I, "/ccc"),
                    (P, "/aaa"),
                    (P, "/example"),
                    (E, "/test"),
                ],
                vec!["/test", "/example", "/aaa", "/b", "/ccc"],
            ),
        ];
        for (name, paths, want) in cases {
            let mut keyed: Vec<(RuleOrder, &str)> = paths
                .iter()
                .enumerate()
                .map(|(i, (t, p))| {
                    (
                        RuleOrder {
                            group_order: 0,
                            host: HostKind::Any,
                            path_len: Reverse(order_len(*t, Some(p))),
                            path_type: *t,
                            member: 0,
                            rule: 0,
                            path: i,
                            written_len: p.len(),
                        },
                        *p,
                    )
                })
                .collect();
            keyed.sort_by_key(|(k, _)| k.lbc_key());
            let got: Vec<&str> = keyed.iter().map(|(_, p)| *p).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn rule_order_keys() {
        let key = |group_order, host, len, path_type, member, rule, path| RuleOrder {
            group_order,
            host,
            path_len: Reverse(len),
            path_type,
            member,
            rule,
            path,
            written_len: len,
        };
        struct Case {
            name: &'static str,
            first: RuleOrder,
            second: RuleOrder,
        }
        let cases = [
            Case {
                name: "group.order beats everything",
                first: key(-1, HostKind::Any, 1, PathType::Prefix, 5, 0, 0),
                second: key(0, HostKind::Exact, 50, PathType::Exact, 0, 0, 0),
            },
            Case {
                name: "exact host before wildcard",
                first: key(0, HostKind::Exact, 1, PathType::Prefix, 1, 0, 0),
                second: key(0, HostKind::Wildcard, 20, PathType::Exact, 0, 0, 0),
            },
            Case {
                name: "wildcard before no host",
                first: key(0, HostKind::Wildcard, 1, PathType::Prefix, 1, 0, 0),
                second: key(0, HostKind::Any, 20, PathType::Exact, 0, 0, 0),
            },
            Case {
                name: "longer path first",
                first: key(0, HostKind::Exact, 8, PathType::Prefix, 1, 1, 1),
                second: key(0, HostKind::Exact, 4, PathType::Exact, 0, 0, 0),
            },
            Case {
                name: "exact before prefix at equal length",
                first: key(0, HostKind::Exact, 4, PathType::Exact, 1, 1, 1),
                second: key(0, HostKind::Exact, 4, PathType::Prefix, 0, 0, 0),
            },
            Case {
                name: "ties keep manifest order",
                first: key(0, HostKind::Exact, 4, PathType::Prefix, 0, 2, 0),
                second: key(0, HostKind::Exact, 4, PathType::Prefix, 1, 0, 0),
            },
        ];
        for case in cases {
            assert!(case.first < case.second, "{}", case.name);
        }
    }
}
