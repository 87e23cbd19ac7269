//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does:
//! the holder renews `renewTime` every renew period; another replica takes the Lease over once
//! it has seen no change to the Lease (holder, times, `resourceVersion`) for
//! `leaseDurationSeconds`, **measured on its own monotonic clock** since it last saw one. The
//! holder's `renewTime` is never compared with the local wall clock, so a replica whose clock
//! runs ahead cannot take the Lease from a healthy leader, and one whose clock runs behind still
//! takes it from a dead one. Every write carries the Lease's `resourceVersion`, so two replicas
//! can never both win (the loser gets 409 Conflict).
//!
//! Wall-clock time is only written (`acquireTime`, `renewTime`, for people reading the Lease);
//! it comes from a [`Clock`] so tests can skew it.
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::time::Instant;

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

/// The wall clock whose time is written into the Lease. Never used to judge expiry.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease.
    Leading,
    /// Someone else holds it.
    Following(String),
}

/// The parts of a Lease whose change shows its holder is alive (client-go compares its whole
/// leader election record the same way), plus the `resourceVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    holder: Option<String>,
    acquire_time: Option<MicroTime>,
    renew_time: Option<MicroTime>,
    lease_duration_seconds: Option<i32>,
    lease_transitions: Option<i32>,
    resource_version: Option<String>,
}

impl Record {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity,
            acquire_time: spec.acquire_time,
            renew_time: spec.renew_time,
            lease_duration_seconds: spec.lease_duration_seconds,
            lease_transitions: spec.lease_transitions,
            resource_version: lease.metadata.resource_version.clone(),
        }
    }
}

/// The Lease as this replica last saw it, and when it last saw it change (local monotonic
/// time): the only basis on which a held Lease is judged expired.
#[derive(Debug, Default)]
struct Observed {
    last: Option<(Record, Instant)>,
}

impl Observed {
    /// Notes `record`, seen at `now`; the clock restarts only when it differs from the last one.
    fn see(&mut self, record: Record, now: Instant) {
        if self.last.as_ref().is_some_and(|(r, _)| *r == record) {
            return;
        }
        self.last = Some((record, now));
    }

    /// True once the Lease has not changed for its `leaseDurationSeconds`, by our clock (or
    /// was never seen).
    fn expired(&self, now: Instant) -> bool {
        let Some((record, changed)) = &self.last else {
            return true;
        };
        let secs = u64::try_from(record.lease_duration_seconds.unwrap_or(0)).unwrap_or(0);
        now.saturating_duration_since(*changed) >= Duration::from_secs(secs)
    }
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

/// One acquire-or-renew attempt.
async fn attempt(
    api: &Api<Lease>,
    cfg: &LeaderConfig,
    clock: &dyn Clock,
    observed: &mut Observed,
) -> Result<Attempt, kube::Error> {
    let me = cfg.identity.as_str();
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        let now = MicroTime(clock.now());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(cfg.name.clone()),
                namespace: Some(cfg.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(me.to_owned()),
                lease_duration_seconds: Some(secs(cfg.lease_duration)),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(created) => {
                observed.see(Record::of(&created), Instant::now());
                Ok(Attempt::Leading)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Following(String::new())),
            Err(e) => Err(e),
        };
    };
    let seen_at = Instant::now();
    observed.see(Record::of(&lease), seen_at);
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder != me && !holder.is_empty() && !observed.expired(seen_at) {
        return Ok(Attempt::Following(holder));
    }
    let now = MicroTime(clock.now());
    if holder != me {
        spec.acquire_time = Some(now.clone());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        spec.holder_identity = Some(me.to_owned());
    }
    spec.renew_time = Some(now);
    spec.lease_duration_seconds = Some(secs(cfg.lease_duration));
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(written) => {
            observed.see(Record::of(&written), Instant::now());
            Ok(Attempt::Leading)
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Following(holder)),
        Err(e) => Err(e),
    }
}

/// Runs the election until `shutdown` fires; `leader` tells whether we lead. On shutdown a
/// held Lease is released (holder cleared) so a standby takes over at once.
pub async fn elect(
    client: Client,
    cfg: LeaderConfig,
    leader: watch::Sender<bool>,
    shutdown: watch::Receiver<bool>,
) {
    run_with_clock(client, cfg, Arc::new(SystemClock), leader, shutdown).await;
}

/// [`elect`], writing the times `clock` tells (tests skew it).
pub async fn run_with_clock(
    client: Client,
    cfg: LeaderConfig,
    clock: Arc<dyn Clock>,
    leader: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
    let mut observed = Observed::default();
    let mut last_renewed: Option<Instant> = None;
    // A leader that cannot renew steps down well before its Lease expires (client-go's renew
    // deadline), so it stops writing before a standby may take over.
    let renew_deadline = cfg.lease_duration.mul_f64(2.0 / 3.0);
    loop {
        // Validity counts from before the request: a standby restarts its count no earlier.
        let attempt_started = Instant::now();
        let result = match tokio::time::timeout(
            cfg.renew_period,
            attempt(&api, &cfg, clock.as_ref(), &mut observed),
        )
        .await
        {
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
        if let Err(e) = release(&api, &cfg, clock.as_ref()).await {
            tracing::warn!(error = %e, "could not release the leader lease");
        }
    }
}

async fn release(
    api: &Api<Lease>,
    cfg: &LeaderConfig,
    clock: &dyn Clock,
) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        return Ok(());
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(clock.now()));
    api.replace(&cfg.name, &PostParams::default(), &lease)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Lease as a holder writes it at renewal `n`, its wall clock `skew` seconds off.
    fn renewed(holder: &str, n: i64, skew: i64) -> Record {
        let t = |s: i64| {
            Some(MicroTime(
                Timestamp::from_second(1_800_000_000 + s).unwrap(),
            ))
        };
        Record {
            holder: Some(holder.to_owned()),
            acquire_time: t(skew),
            renew_time: t(skew + 2 * n),
            lease_duration_seconds: Some(15),
            lease_transitions: Some(0),
            resource_version: Some((100 + n).to_string()),
        }
    }

    // Monotonic time is passed in, so the tests step it by hand (tokio's paused clock would
    // need its `test-util` feature, which rebuilds everything above tokio for tests).
    fn at(t0: Instant, millis: u64) -> Instant {
        t0 + Duration::from_millis(millis)
    }

    #[test]
    fn a_renewing_holder_never_expires_whatever_its_clock_says() {
        // renewTime an hour in the past, an hour in the future, or right: it does not matter,
        // only that it changes. The standby looks every second for two minutes.
        let t0 = Instant::now();
        for skew in [-3600, 3600, 0] {
            let mut seen = Observed::default();
            for second in 0..120 {
                let now = at(t0, second * 1000);
                seen.see(renewed("a", (second / 2) as i64, skew), now);
                assert!(!seen.expired(now), "skew {skew}, second {second}");
            }
        }
    }

    #[test]
    fn a_silent_holder_expires_a_lease_duration_after_its_last_change() {
        let t0 = Instant::now();
        for skew in [-3600, 3600, 0] {
            let mut seen = Observed::default();
            let last = renewed("a", 7, skew);
            seen.see(renewed("a", 6, skew), t0);
            seen.see(last.clone(), at(t0, 2000));
            // The same record, seen again and again: the count runs from its first sighting.
            for millis in (2000..17_000).step_by(500) {
                seen.see(last.clone(), at(t0, millis));
                assert!(!seen.expired(at(t0, millis)), "skew {skew}, {millis} ms");
            }
            seen.see(last.clone(), at(t0, 17_000));
            assert!(seen.expired(at(t0, 17_000)), "skew {skew}");
        }
    }

    #[test]
    fn any_change_restarts_the_count() {
        let t0 = Instant::now();
        let base = renewed("a", 1, 0);
        let changes = [
            Record {
                resource_version: Some("999".into()),
                ..base.clone()
            },
            Record {
                holder: Some("b".into()),
                ..base.clone()
            },
            Record {
                renew_time: None,
                ..base.clone()
            },
            Record {
                lease_transitions: Some(1),
                ..base.clone()
            },
        ];
        for changed in changes {
            let mut seen = Observed::default();
            seen.see(base.clone(), t0);
            seen.see(changed.clone(), at(t0, 14_000));
            assert!(!seen.expired(at(t0, 28_000)), "{changed:?}");
            assert!(seen.expired(at(t0, 29_000)), "{changed:?}");
        }
    }

    #[test]
    fn a_lease_never_seen_counts_as_expired() {
        assert!(Observed::default().expired(Instant::now()));
    }
}
