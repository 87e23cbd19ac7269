//! Authentication actions on LocalStack: an Ingress with OIDC authentication (client id and
//! secret from a Secret manifest, as `plan -f` reads it) and one with Cognito get the
//! authentication action before the forward on their HTTPS listener only; a re-apply makes no
//! mutating call (AWS never returns the client secret: the fingerprint tag stands for it); a
//! rotated Secret is one ModifyRule, one ModifyListener (the default backend authenticates too)
//! and their tags; the secret never appears in the plan.
use std::collections::BTreeMap;

use aws_lb_operator::cli::manifests::load_snapshot;
use aws_lb_operator_core::model::{tags, ActionSpec, Stack};
use aws_lb_operator_core::translate::{build, BuildConfig};

use aws_lb_operator::aws::AwsClients;

use crate::aws_apply::env_with;
use crate::localstack;

const REGION: &str = "eu-north-1";

fn stacks(cluster: &str, certificates: [&str; 2], secret: &str) -> Vec<Stack> {
    let dir = std::env::temp_dir().join(format!("aws-lb-auth-{}-{secret}", localstack::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ingress = |name: &str, certificate: &str, auth: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: shop
  annotations:
    kubernetes.io/ingress.class: alb
    alb.ingress.kubernetes.io/scheme: internet-facing
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{{\"HTTP\": 80}}, {{\"HTTPS\": 443}}]'
    alb.ingress.kubernetes.io/certificate-arn: {certificate}
{auth}
spec:
  defaultBackend: {{service: {{name: web, port: {{number: 80}}}}}}
  rules:
  - host: {name}.example.com
    http:
      paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}]
---
"
        )
    };
    let oidc = ingress(
        "oidc",
        certificates[0],
        "    alb.ingress.kubernetes.io/auth-type: oidc
    alb.ingress.kubernetes.io/auth-scope: openid email
    alb.ingress.kubernetes.io/auth-idp-oidc: '{\"issuer\":\"https://idp.example.com\",\"authorizationEndpoint\":\"https://idp.example.com/auth\",\"tokenEndpoint\":\"https://idp.example.com/token\",\"userInfoEndpoint\":\"https://idp.example.com/userinfo\",\"secretName\":\"oidc\"}'",
    );
    let cognito = ingress(
        "cognito",
        certificates[1],
        "    alb.ingress.kubernetes.io/auth-type: cognito
    alb.ingress.kubernetes.io/auth-on-unauthenticated-request: deny
    alb.ingress.kubernetes.io/auth-idp-cognito: '{\"userPoolARN\":\"arn:aws:cognito-idp:eu-north-1:000000000000:userpool/eu-north-1_abc\",\"userPoolClientID\":\"client-1\",\"userPoolDomain\":\"shop\"}'",
    );
    let yaml = format!(
        "{oidc}{cognito}apiVersion: v1
kind: Secret
metadata: {{name: oidc, namespace: shop}}
stringData: {{clientID: my-client, clientSecret: {secret}}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-1, namespace: shop, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{{addresses: [10.71.1.10], conditions: {{ready: true}}}}]
"
    );
    std::fs::write(dir.join("objects.yaml"), yaml).unwrap();
    let out = build(&load_snapshot(&[dir]).unwrap(), &BuildConfig::new(cluster));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(out.stacks.len(), 2);
    let json = serde_json::to_string(&out.desired_state()).unwrap();
    assert!(!json.contains(secret), "the plan shows the secret");
    out.stacks
}

fn kinds(actions: &[ActionSpec]) -> Vec<&'static str> {
    actions
        .iter()
        .map(|a| match a {
            ActionSpec::AuthenticateOidc(_) => "oidc",
            ActionSpec::AuthenticateCognito(_) => "cognito",
            ActionSpec::Forward { .. } => "forward",
            _ => "other",
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_actions_are_applied_read_back_and_a_rotated_secret_is_sent_again() {
    let config = localstack::account_config(REGION, 5681).await;
    let env = env_with(AwsClients::new(&config), REGION, "auth", 71).await;
    // ACM certificates (LocalStack's ModifyListener checks that they exist), one per load
    // balancer, made by a client that is not the operator's.
    let fixtures = aws_sdk_acm::Client::new(&config);
    let certificates = [
        crate::aws_certificates::import(&fixtures, "www.example.com").await,
        crate::aws_certificates::import(&fixtures, "other.org").await,
    ];
    let certificates = [certificates[0].as_str(), certificates[1].as_str()];
    let first = stacks(&env.cluster, certificates, "first-s3cret");
    let created = env.apply(&first, false).await;
    assert_eq!(created.get("elbv2.CreateRule"), Some(&4), "{created:?}");

    let observed = env.observed().await;
    let mut seen = BTreeMap::new();
    for lb in observed.values().flat_map(|s| s.load_balancers.iter()) {
        for l in &lb.listeners {
            let rule = kinds(&l.rules[0].actions);
            seen.insert((lb.name.clone(), l.port), (kinds(&l.default_actions), rule));
            if let Some(ActionSpec::AuthenticateOidc(o)) = l.rules[0].actions.first() {
                assert_eq!(o.client_id, "my-client");
                assert!(o.client_secret.is_none(), "never read back");
                assert_eq!(o.common.scope, "openid email");
                assert!(l.rules[0].tags.contains_key(tags::OIDC_CLIENT_SECRET));
            }
            if let Some(ActionSpec::AuthenticateCognito(c)) = l.rules[0].actions.first() {
                assert_eq!(c.common.on_unauthenticated_request, "deny");
                assert_eq!(c.user_pool_client_id, "client-1");
            }
        }
    }
    let mut by_port: Vec<(u16, Vec<&str>, Vec<&str>)> = seen
        .into_iter()
        .map(|((_, port), (d, r))| (port, d, r))
        .collect();
    by_port.sort();
    assert_eq!(
        by_port,
        [
            (80, vec!["forward"], vec!["forward"]),
            (80, vec!["forward"], vec!["forward"]),
            (443, vec!["cognito", "forward"], vec!["cognito", "forward"]),
            (443, vec!["oidc", "forward"], vec!["oidc", "forward"]),
        ]
    );

    assert_eq!(env.apply(&first, false).await, BTreeMap::new(), "converged");

    let rotated = stacks(&env.cluster, certificates, "rotated-s3cret");
    assert_eq!(
        env.apply(&rotated, false).await,
        BTreeMap::from([
            ("elbv2.AddTags".to_owned(), 2),
            ("elbv2.ModifyListener".to_owned(), 1),
            ("elbv2.ModifyRule".to_owned(), 1),
        ])
    );
    // moto's ModifyListener replaces the listener's whole certificate list with the default
    // certificate (AWS keeps the list): the default certificate is listed again once, as LBC
    // lists it.
    assert_eq!(
        env.apply(&rotated, false).await,
        BTreeMap::from([("elbv2.AddListenerCertificates".to_owned(), 1)])
    );
    assert_eq!(env.apply(&rotated, false).await, BTreeMap::new());
}
