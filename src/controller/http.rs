//! `/metrics`, `/healthz` and `/readyz` over plain HTTP/1.1, one request per connection.
//!
//! Three read-only endpoints need no web framework: the request line is read, a response is
//! written and the connection closed.
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::metrics::Metrics;
use crate::aws::CallCounter;

/// Binds `addr`; returns the bound address (port 0 picks one).
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    calls: CallCounter,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((mut stream, _)) = accepted else {
            // Out of file descriptors, say: don't spin.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let calls = calls.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let n = match tokio::time::timeout(
                std::time::Duration::from_secs(5),
                stream.read(&mut buf),
            )
            .await
            {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let (status, body, content_type) = respond(path, &metrics, &calls);
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

fn respond(
    path: &str,
    metrics: &Metrics,
    calls: &CallCounter,
) -> (&'static str, String, &'static str) {
    let text = "text/plain; charset=utf-8";
    match path.split('?').next().unwrap_or(path) {
        "/metrics" => (
            "200 OK",
            metrics.render(calls),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        "/healthz" => ("200 OK", "ok\n".to_owned(), text),
        "/readyz" if metrics.ready.load(Ordering::Relaxed) == 1 => {
            ("200 OK", "ready\n".to_owned(), text)
        }
        "/readyz" => (
            "503 Service Unavailable",
            "watch caches not synced yet\n".to_owned(),
            text,
        ),
        _ => ("404 Not Found", "not found\n".to_owned(), text),
    }
}
