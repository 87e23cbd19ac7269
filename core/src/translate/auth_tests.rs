//! Authentication annotations end to end: snapshots in, rule actions and messages out.
use std::collections::BTreeMap;

use super::annotations as ann;
use super::auth::{self, SecretData, SecretValue};
use super::fixtures::*;
use super::*;
use crate::model::{ActionSpec, AuthenticateCommon, ListenerSpec, Stack};

const POOL: &str = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc";
const COGNITO: &str = r#"{"userPoolARN":"arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc","userPoolClientID":"client-1","userPoolDomain":"shop"}"#;
const OIDC: &str = r#"{"issuer":"https://idp.example.com","authorizationEndpoint":"https://idp.example.com/auth","tokenEndpoint":"https://idp.example.com/token","userInfoEndpoint":"https://idp.example.com/userinfo","secretName":"oidc"}"#;
/// A client secret that must never be shown.
const SECRET: &str = "s3cr3t-Value-That-Must-Not-Leak";

fn secret(ns: &str, name: &str, pairs: &[(&str, &str)]) -> SecretData {
    SecretData {
        namespace: ns.into(),
        name: name.into(),
        data: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretValue::new(v.as_bytes().to_vec())))
            .collect(),
    }
}

/// `shop/web` listening on HTTP 80 and HTTPS 443, one rule and a default backend to `web`,
/// with `extra` annotations.
fn web(extra: &[(&str, &str)]) -> Snapshot {
    let mut ing = ingress("shop", "web")
        .annotation(ann::LISTEN_PORTS, r#"[{"HTTP":80},{"HTTPS":443}]"#)
        .annotation(
            ann::CERTIFICATE_ARN,
            "arn:aws:acm:eu-west-1:1:certificate/a",
        )
        .rule(Some("a.example.com"), &[("Prefix", "/", "web", P::N(80))])
        .default_backend("web", P::N(80));
    for (k, v) in extra {
        ing = ing.annotation(k, v);
    }
    let mut snap = snapshot(vec![ing.build()], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    snap
}

fn listener(stack: &Stack, port: u16) -> &ListenerSpec {
    stack
        .listeners
        .iter()
        .find(|l| l.port == port)
        .unwrap_or_else(|| panic!("no listener {port}"))
}

fn types(actions: &[ActionSpec]) -> Vec<&'static str> {
    actions
        .iter()
        .map(|a| match a {
            ActionSpec::Forward { .. } => "forward",
            ActionSpec::FixedResponse(_) => "fixed-response",
            ActionSpec::Redirect(_) => "redirect",
            ActionSpec::AuthenticateCognito(_) => "authenticate-cognito",
            ActionSpec::AuthenticateOidc(_) => "authenticate-oidc",
        })
        .collect()
}

fn errors(out: &BuildOutput) -> Vec<String> {
    out.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn cognito_goes_before_the_forward_on_https_listeners_only_with_lbc_defaults() {
    let out = build(
        &web(&[
            (auth::AUTH_TYPE, "cognito"),
            (auth::AUTH_IDP_COGNITO, COGNITO),
        ]),
        &config(),
    );
    assert!(out.errors.is_empty(), "{:?}", errors(&out));
    let stack = &out.stacks[0];
    let https = listener(stack, 443);
    assert_eq!(
        types(&https.rules[0].actions),
        ["authenticate-cognito", "forward"]
    );
    assert_eq!(
        types(&https.default_actions),
        ["authenticate-cognito", "forward"],
        "the default backend is authenticated too, as in LBC"
    );
    let http = listener(stack, 80);
    assert_eq!(types(&http.rules[0].actions), ["forward"]);
    assert_eq!(types(&http.default_actions), ["forward"]);
    let ActionSpec::AuthenticateCognito(c) = &https.rules[0].actions[0] else {
        panic!("not cognito")
    };
    assert_eq!(c.user_pool_arn, POOL);
    assert_eq!(c.user_pool_client_id, "client-1");
    assert_eq!(c.user_pool_domain, "shop");
    assert_eq!(
        c.common,
        AuthenticateCommon {
            authentication_request_extra_params: BTreeMap::new(),
            on_unauthenticated_request: "authenticate".into(),
            scope: "openid".into(),
            session_cookie_name: "AWSELBAuthSessionCookie".into(),
            session_timeout: 604_800,
        }
    );
    assert!(
        !https.rules[0]
            .tags
            .contains_key(crate::model::tags::OIDC_CLIENT_SECRET),
        "no secret, no fingerprint"
    );
}

#[test]
fn every_auth_setting_reaches_the_action_and_json_keys_match_case_insensitively() {
    // Go's encoding/json (LBC) matches keys case-insensitively.
    let cognito = r#"{"UserPoolArn":"arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_abc","userpoolclientid":"client-2","USERPOOLDOMAIN":"shop","authenticationRequestExtraParams":{"display":"page"}}"#;
    let out = build(
        &web(&[
            (auth::AUTH_TYPE, "cognito"),
            (auth::AUTH_IDP_COGNITO, cognito),
            (auth::AUTH_SCOPE, "email openid"),
            (auth::AUTH_SESSION_COOKIE, "my-cookie"),
            (auth::AUTH_SESSION_TIMEOUT, "86400"),
            (auth::AUTH_ON_UNAUTHENTICATED_REQUEST, "deny"),
        ]),
        &config(),
    );
    assert!(out.errors.is_empty(), "{:?}", errors(&out));
    let ActionSpec::AuthenticateCognito(c) = &listener(&out.stacks[0], 443).rules[0].actions[0]
    else {
        panic!("not cognito")
    };
    assert_eq!(c.user_pool_client_id, "client-2");
    assert_eq!(
        c.common,
        AuthenticateCommon {
            authentication_request_extra_params: [("display".into(), "page".into())].into(),
            on_unauthenticated_request: "deny".into(),
            scope: "email openid".into(),
            session_cookie_name: "my-cookie".into(),
            session_timeout: 86_400,
        }
    );
    assert!(
        out.warnings.is_empty(),
        "implemented annotations are not reported: {:?}",
        out.warnings
    );
}

#[test]
fn oidc_reads_the_secret_and_never_shows_it() {
    let mut snap = web(&[(auth::AUTH_TYPE, "oidc"), (auth::AUTH_IDP_OIDC, OIDC)]);
    // As LBC: white space trimmed off the id, control characters off the secret.
    snap.secrets = vec![secret(
        "shop",
        "oidc",
        &[
            ("clientID", "my-client \n"),
            ("clientSecret", &format!("{SECRET}\n")),
        ],
    )];
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", errors(&out));
    let https = listener(&out.stacks[0], 443);
    assert_eq!(
        types(&https.rules[0].actions),
        ["authenticate-oidc", "forward"]
    );
    let ActionSpec::AuthenticateOidc(o) = &https.rules[0].actions[0] else {
        panic!("not oidc")
    };
    assert_eq!(o.client_id, "my-client");
    assert_eq!(o.issuer, "https://idp.example.com");
    assert_eq!(o.user_info_endpoint, "https://idp.example.com/userinfo");
    let client_secret = o.client_secret.as_ref().expect("secret");
    assert_eq!(client_secret.expose(), SECRET);
    let fingerprint = client_secret.fingerprint().to_owned();
    assert_eq!(fingerprint.len(), 16);
    assert_eq!(
        https.rules[0].tags[crate::model::tags::OIDC_CLIENT_SECRET],
        fingerprint
    );
    assert_eq!(
        https.tags[crate::model::tags::OIDC_CLIENT_SECRET],
        fingerprint,
        "the listener's default actions authenticate too"
    );
    assert!(!listener(&out.stacks[0], 80)
        .tags
        .contains_key(crate::model::tags::OIDC_CLIENT_SECRET));

    // Nowhere in the plan JSON, Debug output, or the redacted Display.
    let json = serde_json::to_string(&out.desired_state()).expect("json");
    assert!(!json.contains(SECRET), "plan JSON leaks the secret");
    assert!(
        json.contains(&format!(
            "\"clientSecret\":\"redacted sha256:{fingerprint}\""
        )),
        "{json}"
    );
    let debug = format!("{out:?} {snap:?}");
    assert!(!debug.contains(SECRET), "Debug leaks the secret");
    assert!(debug.contains(&format!("redacted sha256:{fingerprint}")));
    assert!(
        serde_json::from_str::<crate::model::ClientSecret>("\"x\"").is_err(),
        "a secret is never read back from a plan"
    );

    // A changed secret changes the fingerprint (and so the tag).
    snap.secrets = vec![secret(
        "shop",
        "oidc",
        &[("clientID", "my-client"), ("clientSecret", "rotated")],
    )];
    let rotated = build(&snap, &config());
    let tag =
        &listener(&rotated.stacks[0], 443).rules[0].tags[crate::model::tags::OIDC_CLIENT_SECRET];
    assert_ne!(tag, &fingerprint);
}

#[test]
fn oidc_accepts_the_legacy_client_id_key() {
    let mut snap = web(&[(auth::AUTH_TYPE, "oidc"), (auth::AUTH_IDP_OIDC, OIDC)]);
    snap.secrets = vec![secret(
        "shop",
        "oidc",
        &[("clientId", "legacy"), ("clientSecret", SECRET)],
    )];
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", errors(&out));
    let ActionSpec::AuthenticateOidc(o) = &listener(&out.stacks[0], 443).rules[0].actions[0] else {
        panic!("not oidc")
    };
    assert_eq!(o.client_id, "legacy");
}

#[test]
fn a_missing_secret_or_key_leaves_the_member_out_with_a_clear_message() {
    let cases: [(&str, Vec<SecretData>, String); 4] = [
        (
            "no secret",
            vec![],
            "ingress shop/web: annotation alb.ingress.kubernetes.io/auth-idp-oidc secretName refers to secret shop/oidc, which was not found".to_owned(),
        ),
        (
            "secret in another namespace",
            vec![secret("other", "oidc", &[("clientID", "a"), ("clientSecret", SECRET)])],
            "ingress shop/web: annotation alb.ingress.kubernetes.io/auth-idp-oidc secretName refers to secret shop/oidc, which was not found".to_owned(),
        ),
        (
            "no client secret",
            vec![secret("shop", "oidc", &[("clientID", "a")])],
            "ingress shop/web: annotation alb.ingress.kubernetes.io/auth-idp-oidc secretName refers to key clientSecret of secret shop/oidc, which was not found".to_owned(),
        ),
        (
            "no client id",
            vec![secret("shop", "oidc", &[("clientSecret", SECRET)])],
            "ingress shop/web: annotation alb.ingress.kubernetes.io/auth-idp-oidc secretName refers to key clientID (or clientId) of secret shop/oidc, which was not found".to_owned(),
        ),
    ];
    for (name, secrets, want) in cases {
        let mut snap = web(&[(auth::AUTH_TYPE, "oidc"), (auth::AUTH_IDP_OIDC, OIDC)]);
        snap.secrets = secrets;
        let out = build(&snap, &config());
        assert_eq!(
            errors(&out),
            [format!(
                "{want}; no load balancer is built for ingress shop/web"
            )],
            "{name}"
        );
        assert!(out.stacks.is_empty(), "{name}: its only member is left out");
    }

    // In a group, only the member that needs the Secret is left out.
    let mut snap = web(&[
        (auth::AUTH_TYPE, "oidc"),
        (auth::AUTH_IDP_OIDC, OIDC),
        (ann::GROUP_NAME, "shop"),
    ]);
    snap.ingresses.push(
        ingress("shop", "other")
            .annotation(ann::GROUP_NAME, "shop")
            .rule(Some("b.example.com"), &[("Prefix", "/", "web", P::N(80))])
            .build(),
    );
    let out = build(&snap, &config());
    assert_eq!(
        errors(&out),
        ["ingress shop/web: annotation alb.ingress.kubernetes.io/auth-idp-oidc secretName refers to secret shop/oidc, which was not found; ingress shop/web left out of group shop, the rest of the group is still built"]
    );
    assert_eq!(out.stacks.len(), 1, "ingress shop/other is built");
}

#[test]
fn invalid_auth_annotations_name_what_was_expected() {
    let oidc_expected = "a JSON object with issuer, authorizationEndpoint, tokenEndpoint and userInfoEndpoint (https:// URLs), a non-empty secretName, and at most 10 authenticationRequestExtraParams";
    let cognito_expected = "a JSON object with non-empty userPoolARN (a Cognito user pool ARN), userPoolClientID and userPoolDomain, and at most 10 authenticationRequestExtraParams";
    let http_oidc = OIDC.replace(
        "https://idp.example.com/token",
        "http://idp.example.com/token",
    );
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (
            vec![(auth::AUTH_TYPE, "saml")],
            "annotation alb.ingress.kubernetes.io/auth-type has invalid value \"saml\": expected none, cognito or oidc".into(),
        ),
        (
            vec![(auth::AUTH_ON_UNAUTHENTICATED_REQUEST, "redirect")],
            "annotation alb.ingress.kubernetes.io/auth-on-unauthenticated-request has invalid value \"redirect\": expected authenticate, allow or deny".into(),
        ),
        (
            vec![(auth::AUTH_SESSION_TIMEOUT, "604801")],
            "annotation alb.ingress.kubernetes.io/auth-session-timeout has invalid value \"604801\": expected an integer from 1 to 604800".into(),
        ),
        (
            vec![(auth::AUTH_SESSION_TIMEOUT, "1d")],
            "annotation alb.ingress.kubernetes.io/auth-session-timeout has invalid value \"1d\": expected an integer from 1 to 604800".into(),
        ),
        (
            vec![(auth::AUTH_TYPE, "cognito"), (auth::AUTH_IDP_COGNITO, r#"{"userPoolARN":"pool"}"#)],
            format!("annotation alb.ingress.kubernetes.io/auth-idp-cognito has invalid value \"{{\\\"userPoolARN\\\":\\\"pool\\\"}}\": expected {cognito_expected}"),
        ),
        (
            vec![(auth::AUTH_TYPE, "cognito"), (auth::AUTH_IDP_COGNITO, "{userPoolARN}")],
            format!("annotation alb.ingress.kubernetes.io/auth-idp-cognito has invalid value \"{{userPoolARN}}\": expected {cognito_expected} (key must be a string at line 1 column 2)"),
        ),
        (
            vec![(auth::AUTH_TYPE, "oidc"), (auth::AUTH_IDP_OIDC, &http_oidc)],
            format!("annotation alb.ingress.kubernetes.io/auth-idp-oidc has invalid value {}: expected {oidc_expected}", error::shown(&http_oidc)),
        ),
        (
            vec![(auth::AUTH_TYPE, "cognito")],
            "annotation alb.ingress.kubernetes.io/auth-type refers to annotation alb.ingress.kubernetes.io/auth-idp-cognito, which was not found".into(),
        ),
        (
            vec![(auth::AUTH_TYPE, "oidc")],
            "annotation alb.ingress.kubernetes.io/auth-type refers to annotation alb.ingress.kubernetes.io/auth-idp-oidc, which was not found".into(),
        ),
    ];
    for (annotations, want) in cases {
        let out = build(&web(&annotations), &config());
        let errs = errors(&out);
        assert_eq!(errs.len(), 1, "{annotations:?}: {errs:?}");
        let want =
            format!("ingress shop/web: {want}; no load balancer is built for ingress shop/web");
        assert_eq!(errs[0], want);
    }
}

#[test]
fn http_only_members_are_not_authenticated_and_need_no_idp() {
    // As LBC: the IdP and Secret are only resolved for HTTPS listeners.
    let ing = ingress("shop", "web")
        .annotation(auth::AUTH_TYPE, "oidc")
        .rule(None, &[("Prefix", "/", "web", P::N(80))])
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    ip_service(&mut snap, "shop", "web", "10.0.0.1");
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", errors(&out));
    assert_eq!(
        types(&listener(&out.stacks[0], 80).rules[0].actions),
        ["forward"]
    );
}

#[test]
fn the_service_annotations_win_for_a_backend_that_forwards_to_it_alone() {
    // The Ingress asks for Cognito everywhere; Service `public` switches it off and Service
    // `admin` narrows the scope. A weighted forward to two Services reads the Ingress only.
    let ing = ingress("shop", "web")
        .annotation(ann::CERTIFICATE_ARN, "arn:aws:acm:eu-west-1:1:certificate/a")
        .annotation(auth::AUTH_TYPE, "cognito")
        .annotation(auth::AUTH_IDP_COGNITO, COGNITO)
        .annotation(
            "alb.ingress.kubernetes.io/actions.split",
            r#"{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"public","servicePort":80},{"serviceName":"admin","servicePort":80}]}}"#,
        )
        .rule(
            Some("a.example.com"),
            &[
                ("Exact", "/public", "public", P::N(80)),
                ("Exact", "/admin", "admin", P::N(80)),
                ("Exact", "/split", "split", P::S("use-annotation")),
            ],
        )
        .build();
    let mut snap = snapshot(vec![ing], vec![]);
    ip_service(&mut snap, "shop", "public", "10.0.0.1");
    ip_service(&mut snap, "shop", "admin", "10.0.0.2");
    for svc in &mut snap.services {
        let name = svc.metadata.name.clone().unwrap_or_default();
        let (k, v) = if name == "public" {
            (auth::AUTH_TYPE, "none")
        } else {
            (auth::AUTH_SCOPE, "email")
        };
        *svc = with_service_annotation(svc.clone(), k, v);
    }
    let out = build(&snap, &config());
    assert!(out.errors.is_empty(), "{:?}", errors(&out));
    let https = listener(&out.stacks[0], 443);
    let by_path: BTreeMap<String, &Vec<ActionSpec>> = https
        .rules
        .iter()
        .map(|r| (format!("{:?}", r.conditions[1]), &r.actions))
        .collect();
    let find = |p: &str| {
        by_path
            .iter()
            .find(|(k, _)| k.contains(p))
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no rule for {p}"))
    };
    assert_eq!(types(find("/public")), ["forward"]);
    assert_eq!(types(find("/admin")), ["authenticate-cognito", "forward"]);
    let ActionSpec::AuthenticateCognito(c) = &find("/admin")[0] else {
        panic!("not cognito")
    };
    assert_eq!(c.common.scope, "email");
    let ActionSpec::AuthenticateCognito(c) = &find("/split")[0] else {
        panic!("the split is authenticated from the Ingress alone")
    };
    assert_eq!(c.common.scope, "openid");
}

#[test]
fn secret_data_keeps_only_the_oidc_keys_and_debug_hides_values() {
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::ByteString;
    let s = Secret {
        metadata: meta(Some("shop"), "oidc"),
        data: Some(
            [
                ("clientID".to_owned(), ByteString(b"id".to_vec())),
                ("clientSecret".to_owned(), ByteString(b"old".to_vec())),
                ("tls.key".to_owned(), ByteString(b"PRIVATE".to_vec())),
            ]
            .into(),
        ),
        string_data: Some([("clientSecret".to_owned(), SECRET.to_owned())].into()),
        ..Default::default()
    };
    let d = SecretData::from_secret(&s);
    assert_eq!(
        d.data.keys().collect::<Vec<_>>(),
        ["clientID", "clientSecret"]
    );
    assert_eq!(
        d.data["clientSecret"],
        SecretValue::new(SECRET.as_bytes().to_vec()),
        "stringData wins, as the API server merges it"
    );
    let debug = format!("{d:?}");
    assert!(!debug.contains(SECRET) && !debug.contains("old"), "{debug}");
    assert!(debug.contains("<redacted, 31 bytes>"), "{debug}");
}

#[test]
fn oidc_secret_names_are_found_for_the_watches() {
    let map: BTreeMap<String, String> = [(auth::AUTH_IDP_OIDC.to_owned(), OIDC.to_owned())].into();
    assert_eq!(auth::oidc_secret_name(Some(&map)).as_deref(), Some("oidc"));
    let bad: BTreeMap<String, String> = [(auth::AUTH_IDP_OIDC.to_owned(), "{".to_owned())].into();
    assert_eq!(auth::oidc_secret_name(Some(&bad)), None);
    assert_eq!(auth::oidc_secret_name(None), None);
}

#[test]
fn mutual_tls_goes_on_https_listeners_and_members_must_agree() {
    let store =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/ts/0123456789abcdef";
    let verify = format!(
        r#"[{{"port":443,"mode":"verify","trustStore":"{store}"}},{{"port":80,"mode":"passthrough"}}]"#
    );
    let out = build(
        &web(&[(super::mtls::MUTUAL_AUTHENTICATION, &verify)]),
        &config(),
    );
    assert!(out.errors.is_empty(), "{:?}", errors(&out));
    let stack = &out.stacks[0];
    let m = listener(stack, 443)
        .mutual_authentication
        .as_ref()
        .expect("mTLS on 443");
    assert_eq!(m.mode, "verify");
    assert_eq!(m.trust_store.as_deref(), Some(store));
    assert_eq!(m.ignore_client_certificate_expiry, Some(false));
    assert_eq!(m.advertise_trust_store_ca_names.as_deref(), Some("off"));
    assert_eq!(
        listener(stack, 80).mutual_authentication,
        None,
        "HTTP listeners have no mutual TLS (LBC ignores the entry)"
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let json = serde_json::to_value(out.desired_state()).unwrap();
    assert_eq!(
        json["stacks"][0]["listeners"][1]["mutualAuthentication"],
        serde_json::json!({"mode": "verify", "trustStore": store,
            "ignoreClientCertificateExpiry": false, "advertiseTrustStoreCaNames": "off"})
    );

    // A second member of the group with other settings for 443 is left out.
    let mut snap = web(&[
        (super::mtls::MUTUAL_AUTHENTICATION, &verify),
        (ann::GROUP_NAME, "shop"),
    ]);
    snap.ingresses.push(
        ingress("shop", "other")
            .annotation(ann::GROUP_NAME, "shop")
            .annotation(ann::LISTEN_PORTS, r#"[{"HTTPS":443}]"#)
            .annotation(
                super::mtls::MUTUAL_AUTHENTICATION,
                r#"[{"port":443,"mode":"off"}]"#,
            )
            .rule(Some("b.example.com"), &[("Prefix", "/", "web", P::N(80))])
            .build(),
    );
    let out = build(&snap, &config());
    assert_eq!(
        errors(&out),
        [format!("ingress shop/web: annotation alb.ingress.kubernetes.io/mutual-authentication of port 443 is \"mode verify trustStore {store} ignoreClientCertificateExpiry false advertiseTrustStoreCaNames off\" but ingress shop/other already set \"mode off\" for group shop: expected the same value in every member that sets it; ingress shop/web left out of group shop, the rest of the group is still built")],
        "member order is namespace/name: shop/other merges first"
    );
}
