//! `localstack/start.sh` failure paths: each exits non-zero with a message that says which.
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("localstack")
        .join(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn start_refuses_a_port_taken_by_another_process() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cache = std::env::temp_dir().join(format!("alb-op-port-{port}"));
    let out = Command::new(script("start.sh"))
        .env("LOCALSTACK_PORT", port.to_string())
        .env("AWS_LB_OPERATOR_CACHE", &cache)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "localstack/start.sh: port {port} on 127.0.0.1 is already in use by another process"
        )),
        "{}",
        stderr(&out)
    );
    drop(listener);
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn start_says_when_localstack_cannot_be_installed() {
    // A fresh cache and a package index that does not answer: the install must fail fast and say so.
    let port = free_port();
    let cache = std::env::temp_dir().join(format!("alb-op-noinstall-{port}"));
    let out = Command::new(script("start.sh"))
        .env("LOCALSTACK_PORT", port.to_string())
        .env("AWS_LB_OPERATOR_CACHE", &cache)
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_FIND_LINKS", "")
        .env("PIP_NO_INDEX", "0")
        .env("PIP_RETRIES", "0")
        .env("PIP_TIMEOUT", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "localstack/start.sh: could not install LocalStack from PyPI (no network or package registry unreachable?)"
        ),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(cache);
}

#[test]
fn start_gives_up_after_a_bounded_wait_and_stop_cleans_up() {
    // Uses the installed virtualenv (scripts/test.sh installed it) on a port of its own.
    let port = free_port();
    let env = [
        ("LOCALSTACK_PORT", port.to_string()),
        ("LOCALSTACK_START_TIMEOUT", "0".to_owned()),
    ];
    let out = Command::new(script("start.sh"))
        .envs(env.clone())
        .output()
        .unwrap();
    let err = stderr(&out);
    let stop = Command::new(script("stop.sh")).envs(env).output().unwrap();
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("localstack/start.sh: LocalStack not healthy within 0s"),
        "{err}"
    );
    assert!(err.contains("stop it with localstack/stop.sh"), "{err}");
    // stop.sh ended it: the port is free again.
    assert!(
        TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "port {port} still in use after stop.sh"
    );
}
