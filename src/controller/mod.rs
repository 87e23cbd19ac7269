//! `aws-lb-operator run`: the Kubernetes controller.
//!
//! Thin kube-rs wiring around the same pipeline as the CLI: watch caches ([`stores`]) feed
//! `core::translate`; pure functions decide what to do ([`decisions`]: which stacks to visit,
//! delete or protect, which finalizers to add or release, who keeps a hostname; [`report`]:
//! each stack's outcome and its backoff class); one [`queue`] holds dirty, in-flight and
//! backed-off work for stacks and TargetGroupBindings alike. The [`reconciler`] schedules,
//! [`pass`] runs passes (`crate::pass`) per batch of stacks, [`fast_path`] sends
//! target-only changes through `crate::pass::targets`; [`bindings`] keeps
//! TargetGroupBindings' target groups in step with their Services; [`kube_io`] writes
//! finalizers, status and Events; [`leader`] elects one writer with a Lease; [`http`] serves
//! `/metrics` ([`metrics`]), `/healthz` and `/readyz`. Objects are named by one
//! [`keys::ObjectKey`], stacks by `StackId`.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod bindings;
pub mod decisions;
pub mod fast_path;
pub mod gateway;
pub mod gateway_status;
pub mod http;
pub mod index;
pub mod keys;
pub mod kube_io;
pub mod leader;
pub mod metrics;
pub mod pass;
pub mod queue;
pub mod reconciler;
pub mod report;
pub mod stores;

use crate::aws::{AwsClients, AwsOptions};
use leader::LeaderConfig;
use metrics::Metrics;
use reconciler::{Reconciler, Settings};
use stores::{Signals, Stores};

/// Why the controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// No usable Kubernetes configuration.
    #[error("cannot configure the Kubernetes client: {0}")]
    Kubeconfig(String),
    /// The metrics address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// A flag value is unusable.
    #[error("{0}")]
    Config(String),
}

/// How to run the controller, as the `run` command's flags and environment say
/// (`crate::cli::run` builds it; the controller knows nothing of the CLI).
#[derive(Debug, Clone)]
pub struct Config {
    /// Kubeconfig file; `None`: in-cluster configuration (or `KUBECONFIG`).
    pub kubeconfig: Option<PathBuf>,
    /// How to reach AWS.
    pub aws: AwsOptions,
    /// Reconciler settings.
    pub settings: Settings,
    /// Watched namespaces (empty: all).
    pub namespaces: Vec<String>,
    /// Leader election (`None`: always lead).
    pub leader: Option<LeaderConfig>,
    /// Address for `/metrics`, `/healthz`, `/readyz`.
    pub metrics_addr: SocketAddr,
    /// This replica's name (events, Lease holder).
    pub identity: String,
    /// How long shutdown waits for passes in flight.
    pub shutdown_timeout: Duration,
}

/// Everything a running controller needs from outside: tests build it by hand.
pub struct Deps {
    /// Kubernetes client.
    pub client: Client,
    /// AWS clients.
    pub aws: AwsClients,
    /// Reconciler settings.
    pub settings: Settings,
    /// Watched namespaces (empty: all).
    pub namespaces: Vec<String>,
    /// Leader election (`None`: always lead).
    pub leader: Option<LeaderConfig>,
    /// Address for `/metrics`, `/healthz`, `/readyz`.
    pub metrics_addr: SocketAddr,
    /// This replica's name (events, Lease holder).
    pub identity: String,
    /// How long shutdown waits for passes in flight.
    pub shutdown_timeout: Duration,
}

/// A started controller.
pub struct Running {
    /// Its metrics.
    pub metrics: Arc<Metrics>,
    /// Where `/metrics` listens.
    pub metrics_addr: SocketAddr,
    /// True while leading.
    pub leader: watch::Receiver<bool>,
    shutdown: watch::Sender<bool>,
    /// Holds the "always leading" channel open when there is no election.
    _leader_tx: Option<watch::Sender<bool>>,
    leader_shutdown: watch::Sender<bool>,
    leader_task: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
    watches: Vec<JoinHandle<()>>,
    /// Watches of Gateway API kinds installed after the start.
    late_watches: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    timeout: Duration,
}

/// Aborts every task of `tasks`.
fn abort_all(tasks: &std::sync::Mutex<Vec<JoinHandle<()>>>) {
    for t in tasks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .drain(..)
    {
        t.abort();
    }
}

impl Running {
    /// Stops taking work, lets passes in flight finish (up to the shutdown timeout), releases
    /// the Lease, and stops the watches.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut timed_out = false;
        for task in self.tasks {
            if timed_out {
                task.abort();
            } else if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!("shutdown timed out with passes still in flight");
                timed_out = true;
            }
        }
        let _ = self.leader_shutdown.send(true);
        if let Some(task) = self.leader_task {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        for w in self.watches {
            w.abort();
        }
        abort_all(&self.late_watches);
    }

    /// Aborts everything at once, as a killed process would (no Lease release).
    pub fn kill(self) {
        for t in self
            .tasks
            .into_iter()
            .chain(self.watches)
            .chain(self.leader_task)
        {
            t.abort();
        }
        abort_all(&self.late_watches);
    }
}

/// Starts a controller.
///
/// # Errors
/// The metrics address cannot be bound.
pub async fn start(deps: Deps) -> Result<Running, ControllerError> {
    let metrics = Arc::new(Metrics::new(&deps.aws.calls));
    let (listener, metrics_addr) =
        http::bind(deps.metrics_addr)
            .await
            .map_err(|source| ControllerError::Bind {
                addr: deps.metrics_addr,
                source,
            })?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(http::serve(
        listener,
        Arc::clone(&metrics),
        shutdown_rx.clone(),
    )));
    let signals = Arc::new(Signals::default());
    // Only the Gateway API kinds the API server serves are watched (none without the CRDs).
    let gateway_kinds = gateway::discover(&deps.client).await;
    if gateway_kinds.is_empty() {
        tracing::info!("the Gateway API is not installed: Gateways are not watched");
    } else {
        tracing::info!(kinds = %gateway_kinds, "watching the Gateway API kinds served");
    }
    let (stores, watches) = Stores::start(&deps.client, &deps.namespaces, &gateway_kinds, &signals);
    // Gateway API kinds whose CRDs are installed later are watched from the next discovery on.
    let late_watches: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
    {
        let client = deps.client.clone();
        let gateway = stores.gateway.clone();
        let period = deps.settings.gateway_discovery_period;
        let late = Arc::clone(&late_watches);
        let mut shutdown = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            if period.is_zero() {
                return;
            }
            loop {
                tokio::select! {
                    () = tokio::time::sleep(period) => {}
                    _ = shutdown.changed() => return,
                }
                let found = gateway::discover(&client).await;
                let mut handles = Vec::new();
                let added = gateway.watch_new(&found, &mut handles);
                if !added.is_empty() {
                    let kinds: Vec<&str> = added.iter().map(|k| k.as_str()).collect();
                    tracing::info!(kinds = %kinds.join(", "), "watching Gateway API kinds installed after the start");
                }
                late.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(handles);
            }
        }));
    }
    let (leader_tx, leader_rx) = watch::channel(deps.leader.is_none());
    let (leader_shutdown_tx, leader_shutdown_rx) = watch::channel(false);
    let mut leader_task = None;
    let kept_leader_tx = match deps.leader.clone() {
        Some(cfg) => {
            // The Lease outlives the workers: it is released only after their passes finished,
            // so a standby never writes alongside them.
            leader_task = Some(tokio::spawn(leader::elect(
                deps.client.clone(),
                cfg,
                leader_tx,
                leader_shutdown_rx,
            )));
            None
        }
        None => Some(leader_tx),
    };
    {
        let metrics = Arc::clone(&metrics);
        let mut leader = leader_rx.clone();
        let mut shutdown = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                metrics.leader.set(i64::from(*leader.borrow()));
                tokio::select! {
                    r = leader.changed() => if r.is_err() { return },
                    _ = shutdown.changed() => return,
                }
            }
        }));
    }
    let kube = kube_io::KubeIo::new(deps.client.clone(), &deps.identity, Arc::clone(&metrics));
    // Raised once the stack caches are complete (their readiness has a single waiter).
    let (synced_tx, synced_rx) = watch::channel(false);
    tasks.push(tokio::spawn(
        bindings::Bindings::new(
            bindings::BindingSettings {
                dry_run: deps.settings.dry_run,
                sync_period: deps.settings.sync_period,
                batch_window: deps.settings.target_batch_window,
                cluster: deps.settings.cluster.clone(),
                vpc_id: deps.settings.vpc_id.clone(),
                unrestricted_sg_rules: deps.settings.unrestricted_sg_rules,
            },
            stores.clone(),
            Arc::clone(&signals),
            deps.aws.clone(),
            kube.clone(),
            Arc::clone(&metrics),
        )
        .reconcile_until_shutdown(leader_rx.clone(), shutdown_rx.clone(), synced_rx),
    ));
    let concurrency = deps.settings.concurrency.max(1);
    let reconciler = Reconciler::new(
        deps.settings,
        stores.clone(),
        Arc::clone(&signals),
        deps.aws,
        kube,
        Arc::clone(&metrics),
        leader_rx.clone(),
    );
    // The scheduler starts once the caches are complete, so nothing is judged on a partial
    // view; `/readyz` turns ready at the same moment. (One task waits: kube's store readiness
    // is awaited by a single waiter here.)
    {
        let reconciler = Arc::clone(&reconciler);
        let leader = leader_rx.clone();
        let mut shutdown = shutdown_rx.clone();
        let metrics = Arc::clone(&metrics);
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                () = stores.wait_ready() => {}
                _ = shutdown.changed() => return,
            }
            metrics.ready.set(1);
            let _ = synced_tx.send(true);
            tracing::info!("watch caches synced");
            signals.full.store(true, Ordering::Release);
            reconciler.schedule(leader, shutdown).await;
        }));
    }
    for _ in 0..concurrency {
        tasks.push(tokio::spawn(
            Arc::clone(&reconciler).work(shutdown_rx.clone()),
        ));
    }
    Ok(Running {
        metrics,
        metrics_addr,
        leader: leader_rx,
        shutdown: shutdown_tx,
        _leader_tx: kept_leader_tx,
        leader_shutdown: leader_shutdown_tx,
        leader_task,
        tasks,
        watches,
        late_watches,
        timeout: deps.shutdown_timeout,
    })
}

/// Connects to Kubernetes and AWS as `config` says, starts, and runs until SIGTERM or Ctrl-C.
///
/// # Errors
/// The Kubernetes configuration is unusable or the controller could not start.
pub async fn serve_until_signal(config: Config) -> Result<(), ControllerError> {
    let client = match &config.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| ControllerError::Kubeconfig(e.to_string()))?;
            let kube_config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| ControllerError::Kubeconfig(e.to_string()))?;
            Client::try_from(kube_config).map_err(|e| ControllerError::Kubeconfig(e.to_string()))?
        }
        None => Client::try_default()
            .await
            .map_err(|e| ControllerError::Kubeconfig(e.to_string()))?,
    };
    let aws = AwsClients::connect(&config.aws).await;
    let deps = Deps {
        client,
        aws,
        settings: config.settings,
        namespaces: config.namespaces,
        leader: config.leader,
        metrics_addr: config.metrics_addr,
        identity: config.identity,
        shutdown_timeout: config.shutdown_timeout,
    };
    let running = start(deps).await?;
    tracing::info!(metrics = %running.metrics_addr, "controller started");
    wait_for_signal().await;
    tracing::info!("shutting down: finishing passes in flight");
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
