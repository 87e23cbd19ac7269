//! A seeded fault-injecting HTTP proxy between the AWS SDK and LocalStack.
//!
//! Point the clients' endpoint at [`FaultProxy::url`]; each request is forwarded to LocalStack
//! unless a [`Rule`] fires for it. The operation is read from the request itself: the service
//! from the SigV4 credential scope of the `Authorization` header, the operation from the
//! `Action=` of a query-protocol body (ELBv2, EC2) or from the method and path of a Route53
//! REST request. Faults, as AWS gives them:
//!
//! - [`Fault::Throttle`]: `400 Throttling` (ELBv2, Route53) or `503 RequestLimitExceeded` (EC2);
//! - [`Fault::SlowDown`]: `503 SlowDown`;
//! - [`Fault::ServerError`]: `500 InternalFailure`;
//! - [`Fault::Reset`]: the connection is closed before the request is forwarded;
//! - [`Fault::Delay`]: the request is forwarded late;
//! - [`Fault::LoseResponse`]: the request is forwarded (it takes effect), then the connection is
//!   closed before the answer is sent;
//! - [`Fault::AccessDenied`]: `403 AccessDenied` (EC2: `403 UnauthorizedOperation`), as a
//!   missing IAM permission answers.
//!
//! A rule can be narrowed to requests whose body contains a string (one load balancer's name),
//! and the rules can be replaced while the proxy runs ([`FaultProxy::set_rules`]). Every request
//! is logged with the time it arrived ([`FaultProxy::log`]).
//!
//! Whether a rule fires is a pure function of the seed, the operation, how many requests of that
//! operation the proxy has seen and the rule's index, so a run with the same seed and the same
//! order of calls injects the same faults. Every injected fault is logged (with `eprintln!`,
//! shown for failing tests) and counted.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// What happens to a request a rule fires for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `400 Throttling` (EC2: `503 RequestLimitExceeded`), as AWS throttles.
    Throttle,
    /// `503 SlowDown`.
    SlowDown,
    /// `500 InternalFailure`.
    ServerError,
    /// The connection is closed; the request never reaches LocalStack.
    Reset,
    /// The request is forwarded after this long.
    Delay(Duration),
    /// The request is forwarded and takes effect; its answer is never sent.
    LoseResponse,
    /// `403 AccessDenied` (EC2: `403 UnauthorizedOperation`); not retried by the SDK.
    AccessDenied,
}

/// Which operations a rule applies to.
#[derive(Clone, Debug)]
pub enum Ops {
    /// Every operation.
    All,
    /// Operations that change AWS state (not Describe, List or Get).
    Mutating,
    /// Exactly these (`elbv2.CreateRule`, `route53.ChangeResourceRecordSets`, ...).
    Named(Vec<String>),
}

impl Ops {
    fn matches(&self, op: &str) -> bool {
        match self {
            Ops::All => true,
            Ops::Mutating => {
                let name = op.split_once('.').map_or(op, |(_, n)| n);
                aws_lb_operator::aws::calls::is_mutating(name)
            }
            Ops::Named(names) => names.iter().any(|n| n == op),
        }
    }
}

/// One fault with its probability on some operations.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Where it applies.
    pub ops: Ops,
    /// What it does.
    pub fault: Fault,
    /// Chance per request, 0.0..=1.0.
    pub probability: f64,
    /// Only the first this many requests of each operation (all when `None`).
    pub first: Option<u64>,
    /// Only requests whose body contains this (all when `None`).
    pub body_contains: Option<String>,
}

impl Rule {
    pub fn new(ops: Ops, fault: Fault, probability: f64) -> Self {
        Rule {
            ops,
            fault,
            probability,
            first: None,
            body_contains: None,
        }
    }

    /// The rule, only for requests whose body contains `text` (a load balancer's name).
    pub fn when_body_contains(self, text: &str) -> Self {
        Rule {
            body_contains: Some(text.to_owned()),
            ..self
        }
    }

    /// `fault` on exactly the first `n` requests of each of `ops`.
    pub fn first(ops: Ops, fault: Fault, n: u64) -> Self {
        Rule {
            first: Some(n),
            ..Rule::new(ops, fault, 1.0)
        }
    }
}

/// A fault the proxy injected.
#[derive(Clone, Debug)]
pub struct Injected {
    /// `service.Operation`.
    pub op: String,
    /// Which request of that operation (0-based).
    pub nth: u64,
    /// The fault.
    pub fault: Fault,
}

/// A request the proxy received.
#[derive(Clone, Debug)]
pub struct Logged {
    /// `service.Operation`.
    pub op: String,
    /// When it arrived.
    pub at: std::time::Instant,
    /// When its answer (or the fault) was sent; `None` while in flight.
    pub done: Option<std::time::Instant>,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
    /// The request body (form-encoded for ELBv2 and EC2).
    pub body: String,
}

#[derive(Default)]
struct State {
    seed: u64,
    rules: Vec<Rule>,
    seen: BTreeMap<String, u64>,
    /// When each request arrived, by operation.
    arrivals: BTreeMap<String, Vec<Instant>>,
    injected: Vec<Injected>,
    log: Vec<Logged>,
    started: Option<std::time::Instant>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://host:port`) with `rules`.
    pub async fn start(upstream: &str, seed: u64, rules: Vec<Rule>) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream is http://host:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            seed,
            rules,
            started: Some(std::time::Instant::now()),
            ..State::default()
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, upstream, state.clone()));
                    // A connection closed on purpose (reset, lost response) ends with an
                    // error here; that is the fault, not a proxy failure.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { url, state, task }
    }

    /// Every fault injected so far, one line each (`elbv2.CreateRule #3: LoseResponse`).
    pub fn injected(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .injected
            .iter()
            .map(|i| format!("{} #{}: {:?}", i.op, i.nth, i.fault))
            .collect()
    }

    /// How many faults of each kind (`Throttle`, `LoseResponse`, ...) were injected so far.
    pub fn injected_counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for i in self.state.lock().unwrap().injected.iter() {
            let kind = match i.fault {
                Fault::Delay(_) => "Delay".to_owned(),
                f => format!("{f:?}"),
            };
            *out.entry(kind).or_insert(0) += 1;
        }
        out
    }

    /// Replaces the rules (counts and the log go on).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.state.lock().unwrap().rules = rules;
    }

    /// Every request received so far, in order.
    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    /// Requests seen per operation (faulted or not).
    pub fn seen(&self) -> BTreeMap<String, u64> {
        self.state.lock().unwrap().seen.clone()
    }

    /// When each request of `op` (`service.Operation`) arrived, in order.
    pub fn arrivals(&self, op: &str) -> Vec<Instant> {
        self.state
            .lock()
            .unwrap()
            .arrivals
            .get(op)
            .cloned()
            .unwrap_or_default()
    }
}

/// splitmix64: a well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from the seed, the operation, its count and the rule.
pub fn draw(seed: u64, op: &str, nth: u64, rule: usize) -> f64 {
    let mut h = mix(seed);
    for b in op.bytes() {
        h = mix(h ^ u64::from(b));
    }
    h = mix(h ^ nth);
    h = mix(h ^ rule as u64);
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// `elbv2`, `ec2` or `route53`, from the SigV4 credential scope.
fn service(req: &Request<Incoming>) -> String {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let scope = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split(',').next())
        .unwrap_or_default();
    match scope.split('/').nth(3).unwrap_or_default() {
        "elasticloadbalancing" => "elbv2".to_owned(),
        other => other.to_owned(),
    }
}

/// The operation a Route53 REST request calls.
fn route53_operation(method: &str, path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("POST", [_, "hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("GET", [_, "hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("GET", [_, "hostedzone"]) => "ListHostedZones",
        ("GET", [_, "hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", [_, "hostedzone", _]) => "GetHostedZone",
        ("POST", [_, "hostedzone"]) => "CreateHostedZone",
        ("GET", [_, "change", _]) => "GetChange",
        _ => "Other",
    }
}

fn query_action(body: &[u8]) -> String {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "Other".to_owned())
}

fn error_response(service: &str, fault: Fault) -> Response<Full<Bytes>> {
    let (status, code, message) = match (fault, service) {
        (Fault::Throttle, "ec2") => (503, "RequestLimitExceeded", "Request limit exceeded."),
        (Fault::Throttle, _) => (400, "Throttling", "Rate exceeded"),
        (Fault::AccessDenied, "ec2") => (
            403,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        ),
        (Fault::AccessDenied, _) => (
            403,
            "AccessDenied",
            "User is not authorized to perform this operation (fault proxy)",
        ),
        (Fault::SlowDown, _) => (503, "SlowDown", "Please reduce your request rate."),
        _ => (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        ),
    };
    let body = if service == "ec2" {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
        )
    } else {
        format!(
            "<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code>\
             <Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>",
            if status >= 500 { "Receiver" } else { "Sender" }
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("content-type", "text/xml".parse().unwrap());
    resp
}

/// The connection is dropped on purpose.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

async fn handle(
    req: Request<Incoming>,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let service = service(&req);
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let op_name = if service == "route53" {
        route53_operation(parts.method.as_str(), parts.uri.path()).to_owned()
    } else {
        query_action(&body)
    };
    let op = format!("{service}.{op_name}");
    let text = String::from_utf8_lossy(&body).into_owned();
    let (fault, logged) = {
        let mut s = state.lock().unwrap();
        s.arrivals
            .entry(op.clone())
            .or_default()
            .push(Instant::now());
        let nth = {
            let n = s.seen.entry(op.clone()).or_insert(0);
            *n += 1;
            *n - 1
        };
        let fault = s
            .rules
            .iter()
            .enumerate()
            .find(|(i, r)| {
                r.ops.matches(&op)
                    && r.first.is_none_or(|n| nth < n)
                    && r.body_contains
                        .as_ref()
                        .is_none_or(|t| text.contains(t.as_str()))
                    && draw(s.seed, &op, nth, *i) < r.probability
            })
            .map(|(_, r)| r.fault);
        if let Some(fault) = fault {
            let t = s.started.map(|t| t.elapsed()).unwrap_or_default();
            eprintln!("fault proxy: {op} #{nth}: {fault:?} at {t:.2?}");
            s.injected.push(Injected {
                op: op.clone(),
                nth,
                fault,
            });
        }
        s.log.push(Logged {
            op: op.clone(),
            at: std::time::Instant::now(),
            done: None,
            fault,
            body: text,
        });
        (fault, s.log.len() - 1)
    };
    let result = respond(fault, &service, upstream, parts, body).await;
    if let Some(l) = state.lock().unwrap().log.get_mut(logged) {
        l.done = Some(std::time::Instant::now());
    }
    result
}

/// What the proxy answers a request `fault` fired for (or none).
async fn respond(
    fault: Option<Fault>,
    service: &str,
    upstream: SocketAddr,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Dropped> {
    match fault {
        Some(
            f @ (Fault::Throttle | Fault::SlowDown | Fault::ServerError | Fault::AccessDenied),
        ) => {
            return Ok(error_response(service, f));
        }
        Some(Fault::Reset) => return Err(Dropped),
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::LoseResponse) | None => {}
    }
    let resp = forward(upstream, Request::from_parts(parts, body)).await?;
    if fault == Some(Fault::LoseResponse) {
        return Err(Dropped);
    }
    Ok(resp)
}

async fn forward(
    upstream: SocketAddr,
    req: Request<Bytes>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let stream = TcpStream::connect(upstream).await.map_err(|_| Dropped)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| Dropped)?;
    tokio::spawn(conn);
    let (parts, body) = req.into_parts();
    let resp = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|_| Dropped)?;
    let (mut parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    for h in ["transfer-encoding", "content-length", "connection"] {
        parts.headers.remove(h);
    }
    Ok(Response::from_parts(parts, Full::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_and_roughly_uniform() {
        let a: Vec<f64> = (0..1000)
            .map(|n| draw(7, "elbv2.CreateRule", n, 0))
            .collect();
        let b: Vec<f64> = (0..1000)
            .map(|n| draw(7, "elbv2.CreateRule", n, 0))
            .collect();
        assert_eq!(a, b, "same seed, same draws");
        let c: Vec<f64> = (0..1000)
            .map(|n| draw(8, "elbv2.CreateRule", n, 0))
            .collect();
        assert_ne!(a, c);
        let below = a.iter().filter(|x| **x < 0.1).count();
        assert!((60..=140).contains(&below), "{below} of 1000 below 0.1");
        assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
    }

    #[test]
    fn route53_paths_name_their_operations() {
        assert_eq!(
            route53_operation("POST", "/2013-04-01/hostedzone/Z1/rrset"),
            "ChangeResourceRecordSets"
        );
        assert_eq!(
            route53_operation("GET", "/2013-04-01/hostedzone/Z1/rrset"),
            "ListResourceRecordSets"
        );
        assert_eq!(
            route53_operation("GET", "/2013-04-01/hostedzone"),
            "ListHostedZones"
        );
        assert_eq!(
            query_action(b"Action=CreateRule&Version=2015-12-01"),
            "CreateRule"
        );
        assert!(Ops::Mutating.matches("ec2.AuthorizeSecurityGroupIngress"));
        assert!(!Ops::Mutating.matches("elbv2.DescribeRules"));
    }
}
