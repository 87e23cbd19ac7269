//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does:
//! the holder renews `renewTime` every renew period; another replica takes the Lease over once
//! `renewTime + leaseDurationSeconds` has passed. Every write carries the Lease's
//! `resourceVersion`, so two replicas can never both win (the loser gets 409 Conflict).
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;

/// Settings of the election.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (pod name).
    pub identity: String,
    /// How long a Lease is valid without renewal.
    pub lease_duration: Duration,
    /// How often the holder renews (and others retry).
    pub renew_period: Duration,
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease.
    Leading,
    /// Someone else holds it.
    Following(String),
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

/// One acquire-or-renew attempt.
async fn attempt(api: &Api<Lease>, cfg: &LeaderConfig) -> Result<Attempt, kube::Error> {
    let me = cfg.identity.as_str();
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(cfg.name.clone()),
                namespace: Some(cfg.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(me.to_owned()),
                lease_duration_seconds: Some(secs(cfg.lease_duration)),
                acquire_time: Some(now()),
                renew_time: Some(now()),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(Attempt::Leading),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Following(String::new())),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(renewed), Some(duration)) => {
            let until = renewed.0.as_millisecond() + i64::from(duration) * 1000;
            Timestamp::now().as_millisecond() > until
        }
        _ => true,
    };
    if holder != me && !holder.is_empty() && !expired {
        return Ok(Attempt::Following(holder));
    }
    if holder != me {
        spec.acquire_time = Some(now());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        spec.holder_identity = Some(me.to_owned());
    }
    spec.renew_time = Some(now());
    spec.lease_duration_seconds = Some(secs(cfg.lease_duration));
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(Attempt::Leading),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Following(holder)),
        Err(e) => Err(e),
    }
}

/// Runs the election until `shutdown` fires; `leader` tells whether we lead. On shutdown a
/// held Lease is released (holder cleared) so a standby takes over at once.
pub async fn run(
    client: Client,
    cfg: LeaderConfig,
    leader: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
    let mut last_renewed: Option<Instant> = None;
    // A leader that cannot renew steps down well before its Lease expires (client-go's renew
    // deadline), so it stops writing before a standby may take over.
    let renew_deadline = cfg.lease_duration.mul_f64(2.0 / 3.0);
    loop {
        // Validity counts from before the request, as the Lease's renewTime does.
        let attempt_started = Instant::now();
        let result = match tokio::time::timeout(cfg.renew_period, attempt(&api, &cfg)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("renewal timed out".to_owned()),
        };
        let leading = match result {
            Ok(Attempt::Leading) => {
                last_renewed = Some(attempt_started);
                true
            }
            Ok(Attempt::Following(holder)) => {
                if *leader.borrow() {
                    tracing::warn!(%holder, "lost the leader lease");
                }
                last_renewed = None;
                false
            }
            Err(e) => {
                // Keep leading only within the renew deadline of the last renewal.
                let valid = last_renewed.is_some_and(|t| t.elapsed() < renew_deadline);
                tracing::warn!(error = %e, still_leading = valid, "leader election: cannot reach the Lease");
                valid
            }
        };
        if leading != *leader.borrow() {
            tracing::info!(identity = %cfg.identity, leading, "leadership changed");
            let _ = leader.send(leading);
        }
        let wait = if leading {
            cfg.renew_period
        } else {
            cfg.renew_period / 2
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
    }
    if *leader.borrow() {
        let _ = leader.send(false);
        if let Err(e) = release(&api, &cfg).await {
            tracing::warn!(error = %e, "could not release the leader lease");
        }
    }
}

async fn release(api: &Api<Lease>, cfg: &LeaderConfig) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        return Ok(());
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(now());
    api.replace(&cfg.name, &PostParams::default(), &lease)
        .await
        .map(|_| ())
}
