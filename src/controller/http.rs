//! `/metrics`, `/healthz` and `/readyz`, served by hyper's HTTP/1 server (hyper is already in
//! the dependency tree through kube; only its `server` feature is added).
//!
//! Every response closes its connection (no keep-alive: scrapes and probes are one request
//! each), and a client that sends no complete request head within 5 s is dropped.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::metrics::{self, Metrics};

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr`; returns the bound address (port 0 picks one).
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves until `shutdown` fires (connections in flight are not waited for).
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, say: don't spin.
                tracing::debug!(error = %e, "metrics server: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let response = respond(&req, &metrics);
                async move { Ok::<_, Infallible>(response) }
            });
            let served = http1::Builder::new()
                .keep_alive(false)
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "metrics server: connection ended with an error");
            }
        });
    }
}

fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    // Any method, as before: the paths are read-only.
    let (status, body, content_type) = match req.uri().path() {
        "/metrics" => (StatusCode::OK, metrics.render(), metrics::CONTENT_TYPE),
        "/healthz" => (StatusCode::OK, "ok\n".to_owned(), TEXT),
        "/readyz" if metrics.ready.get() == 1 => (StatusCode::OK, "ready\n".to_owned(), TEXT),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "watch caches not synced yet\n".to_owned(),
            TEXT,
        ),
        _ => (StatusCode::NOT_FOUND, "not found\n".to_owned(), TEXT),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
