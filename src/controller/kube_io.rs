//! Writes to Kubernetes: finalizers, `status.loadBalancer`, and Events.
//!
//! Finalizers use the AWS Load Balancer Controller's names, so objects it finalized are
//! recognised (and it recognises ours): `ingress.k8s.aws/resources` (an Ingress in its own
//! implicit group), `group.ingress.k8s.aws/<group>` (an explicit IngressGroup),
//! `service.k8s.aws/resources` (a Service), `elbv2.k8s.aws/resources` (a TargetGroupBinding),
//! `gateway.k8s.aws/alb` and `gateway.k8s.aws/nlb` (a Gateway of an ALB or NLB class). The
//! Gateway API status is written through [`KubeIo::patch_gateway_status`].
use std::sync::Arc;

use aws_lb_operator_core::model::{StackId, StackKind};
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource};
use serde_json::json;

use super::metrics::{EventType as MetricEventType, Metrics};
use crate::crd::{TargetGroupBinding, TargetGroupBindingStatus};

pub use aws_lb_operator_core::translate::{GROUP_FINALIZER_PREFIX, INGRESS_FINALIZER};
/// Finalizer of a Service.
pub const SERVICE_FINALIZER: &str = "service.k8s.aws/resources";
/// Prefix of the ConfigMap of a multi-cluster TargetGroupBinding's targets (LBC's).
pub const TRACKED_TARGETS_PREFIX: &str = "aws-lbc-targets-";
/// Its data key.
pub const TRACKED_TARGETS_KEY: &str = "targets";
/// Field manager of the operator's server-side applies.
const FIELD_MANAGER: &str = "aws-lb-operator";

/// The ConfigMap of a multi-cluster binding's targets: `aws-lbc-targets-<binding name>`.
pub fn tracked_targets_name(tgb: &TargetGroupBinding) -> String {
    format!(
        "{TRACKED_TARGETS_PREFIX}{}",
        tgb.metadata.name.as_deref().unwrap_or_default()
    )
}

/// Finalizer of a TargetGroupBinding.
pub const BINDING_FINALIZER: &str = "elbv2.k8s.aws/resources";
/// Finalizer of a Gateway of an ALB class.
pub const ALB_GATEWAY_FINALIZER: &str = "gateway.k8s.aws/alb";
/// Finalizer of a Gateway of an NLB class.
pub const NLB_GATEWAY_FINALIZER: &str = "gateway.k8s.aws/nlb";

/// Kind of object the controller writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjKind {
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `v1` Service.
    Service,
    /// `gateway.networking.k8s.io/v1` Gateway (finalizers and events; its status is written
    /// by [`super::gateway_status`]).
    Gateway,
}

/// What the controller needs to know about one Ingress or Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjState {
    /// Kind.
    pub kind: ObjKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (for event references).
    pub uid: String,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// `status.loadBalancer.ingress[].hostname` values.
    pub hostnames: Vec<String>,
}

impl ObjState {
    /// The registry/claims key: `ingress/ns/name` or `service/ns/name`.
    pub fn key(&self) -> String {
        let kind = match self.kind {
            ObjKind::Ingress => "ingress",
            ObjKind::Service => "service",
            ObjKind::Gateway => "gateway",
        };
        format!("{kind}/{}/{}", self.namespace, self.name)
    }

    /// From a cached Ingress.
    pub fn ingress(i: &Arc<Ingress>) -> Self {
        let lb = i.status.as_ref().and_then(|s| s.load_balancer.as_ref());
        Self::new(
            ObjKind::Ingress,
            &i.metadata,
            lb.and_then(|l| l.ingress.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|x| x.hostname.clone())
                .collect(),
        )
    }

    /// From a cached Service.
    pub fn service(s: &Arc<Service>) -> Self {
        let lb = s.status.as_ref().and_then(|s| s.load_balancer.as_ref());
        Self::new(
            ObjKind::Service,
            &s.metadata,
            lb.and_then(|l| l.ingress.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|x| x.hostname.clone())
                .collect(),
        )
    }

    /// From a cached Gateway (`hostnames`: its `status.addresses` values).
    pub fn gateway(g: &DynamicObject) -> Self {
        let hostnames = g
            .data
            .pointer("/status/addresses")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("value").and_then(serde_json::Value::as_str))
            .map(str::to_owned)
            .collect();
        Self::new(ObjKind::Gateway, &g.metadata, hostnames)
    }

    fn new(
        kind: ObjKind,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        hostnames: Vec<String>,
    ) -> Self {
        Self {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
            hostnames,
        }
    }

    /// The stacks this object's finalizers hold.
    pub fn finalized_stacks(&self) -> Vec<(String, StackId)> {
        self.finalizers
            .iter()
            .filter_map(|f| {
                let stack = match (self.kind, f.as_str()) {
                    (ObjKind::Ingress, INGRESS_FINALIZER) => {
                        StackId::implicit(&self.namespace, &self.name)
                    }
                    (ObjKind::Ingress, g) => {
                        StackId::explicit(g.strip_prefix(GROUP_FINALIZER_PREFIX)?)
                    }
                    (ObjKind::Service, SERVICE_FINALIZER) => {
                        StackId::service(&self.namespace, &self.name)
                    }
                    (ObjKind::Gateway, ALB_GATEWAY_FINALIZER) => {
                        StackId::gateway(&self.namespace, &self.name)
                    }
                    (ObjKind::Gateway, NLB_GATEWAY_FINALIZER) => {
                        StackId::nlb_gateway(&self.namespace, &self.name)
                    }
                    _ => return None,
                };
                Some((f.clone(), stack))
            })
            .collect()
    }

    fn reference(&self) -> ObjectReference {
        let (api_version, kind) = match self.kind {
            ObjKind::Ingress => ("networking.k8s.io/v1", "Ingress"),
            ObjKind::Service => ("v1", "Service"),
            ObjKind::Gateway => ("gateway.networking.k8s.io/v1", "Gateway"),
        };
        ObjectReference {
            api_version: Some(api_version.to_owned()),
            kind: Some(kind.to_owned()),
            namespace: Some(self.namespace.clone()),
            name: Some(self.name.clone()),
            uid: (!self.uid.is_empty()).then(|| self.uid.clone()),
            ..ObjectReference::default()
        }
    }
}

/// The finalizer an object of `stack` carries.
pub fn finalizer_for(stack: &StackId) -> String {
    match stack.kind {
        StackKind::Service => SERVICE_FINALIZER.to_owned(),
        StackKind::Ingress if stack.is_explicit() => {
            format!("{GROUP_FINALIZER_PREFIX}{}", stack.name)
        }
        StackKind::Ingress => INGRESS_FINALIZER.to_owned(),
        StackKind::Gateway => ALB_GATEWAY_FINALIZER.to_owned(),
        StackKind::NlbGateway => NLB_GATEWAY_FINALIZER.to_owned(),
    }
}

/// Kubernetes writes of the controller, with its event recorder.
#[derive(Clone)]
pub struct KubeIo {
    client: Client,
    recorder: Arc<Recorder>,
    metrics: Arc<Metrics>,
}

impl KubeIo {
    /// Writes through `client`; events are reported as `controller`/`instance`.
    pub fn new(client: Client, instance: &str, metrics: Arc<Metrics>) -> Self {
        let reporter = kube::runtime::events::Reporter {
            controller: "aws-lb-operator".into(),
            instance: Some(instance.to_owned()),
        };
        Self {
            recorder: Arc::new(Recorder::new(client.clone(), reporter)),
            client,
            metrics,
        }
    }

    async fn patch(
        &self,
        obj: &ObjState,
        status: bool,
        patch: Patch<serde_json::Value>,
    ) -> Result<(), kube::Error> {
        match obj.kind {
            ObjKind::Ingress => self.patch_in::<Ingress>(obj, status, patch).await,
            ObjKind::Service => self.patch_in::<Service>(obj, status, patch).await,
            ObjKind::Gateway => {
                let api: Api<DynamicObject> = Api::namespaced_with(
                    self.client.clone(),
                    &obj.namespace,
                    &super::gateway::Kind::Gateway.resource("v1"),
                );
                let pp = PatchParams::default();
                if status {
                    api.patch_status(&obj.name, &pp, &patch).await.map(|_| ())
                } else {
                    api.patch(&obj.name, &pp, &patch).await.map(|_| ())
                }
            }
        }
    }

    async fn patch_in<K>(
        &self,
        obj: &ObjState,
        status: bool,
        patch: Patch<serde_json::Value>,
    ) -> Result<(), kube::Error>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), &obj.namespace);
        let pp = PatchParams::default();
        if status {
            api.patch_status(&obj.name, &pp, &patch).await.map(|_| ())
        } else {
            api.patch(&obj.name, &pp, &patch).await.map(|_| ())
        }
    }

    /// Adds `finalizer`: a JSON patch that appends (so concurrent finalizers are kept), guarded
    /// by a `test` that the list is still what the cache saw (see [`add_finalizer_patch`]).
    ///
    /// # Errors
    /// The API server refused the patch.
    pub async fn add_finalizer(&self, obj: &ObjState, finalizer: &str) -> Result<(), kube::Error> {
        self.patch(
            obj,
            false,
            add_finalizer_patch(Some(&obj.uid), &obj.finalizers, finalizer)?,
        )
        .await
    }

    /// Removes `finalizer`, guarded by a `test` op so a list changed meanwhile is never
    /// clobbered (the patch then fails and is retried on the next reconcile).
    ///
    /// # Errors
    /// The API server refused the patch.
    pub async fn remove_finalizer(
        &self,
        obj: &ObjState,
        finalizer: &str,
    ) -> Result<(), kube::Error> {
        match remove_finalizer_patch(Some(&obj.uid), &obj.finalizers, finalizer)? {
            Some(patch) => self.patch(obj, false, patch).await,
            None => Ok(()),
        }
    }

    fn binding_api(&self, tgb: &TargetGroupBinding) -> Api<TargetGroupBinding> {
        Api::namespaced(
            self.client.clone(),
            tgb.metadata.namespace.as_deref().unwrap_or("default"),
        )
    }

    /// Adds [`BINDING_FINALIZER`] to a TargetGroupBinding (appending, as
    /// [`KubeIo::add_finalizer`]).
    ///
    /// # Errors
    /// The API server refused the patch.
    pub async fn add_binding_finalizer(&self, tgb: &TargetGroupBinding) -> Result<(), kube::Error> {
        let current = tgb.metadata.finalizers.clone().unwrap_or_default();
        let patch = add_finalizer_patch(tgb.metadata.uid.as_deref(), &current, BINDING_FINALIZER)?;
        let name = tgb.metadata.name.as_deref().unwrap_or_default();
        self.binding_api(tgb)
            .patch(name, &PatchParams::default(), &patch)
            .await
            .map(|_| ())
    }

    /// Removes [`BINDING_FINALIZER`] from a TargetGroupBinding (guarded, as
    /// [`KubeIo::remove_finalizer`]).
    ///
    /// # Errors
    /// The API server refused the patch.
    pub async fn remove_binding_finalizer(
        &self,
        tgb: &TargetGroupBinding,
    ) -> Result<(), kube::Error> {
        let current = tgb.metadata.finalizers.clone().unwrap_or_default();
        let Some(patch) =
            remove_finalizer_patch(tgb.metadata.uid.as_deref(), &current, BINDING_FINALIZER)?
        else {
            return Ok(());
        };
        let name = tgb.metadata.name.as_deref().unwrap_or_default();
        self.binding_api(tgb)
            .patch(name, &PatchParams::default(), &patch)
            .await
            .map(|_| ())
    }

    /// Replaces a TargetGroupBinding's status (merge patch of the status subresource; the
    /// conditions list is replaced as a whole).
    ///
    /// # Errors
    /// The API server refused the patch.
    pub async fn set_binding_status(
        &self,
        tgb: &TargetGroupBinding,
        status: &TargetGroupBindingStatus,
    ) -> Result<(), kube::Error> {
        let patch = Patch::Merge(json!({ "status": status }));
        let name = tgb.metadata.name.as_deref().unwrap_or_default();
        self.binding_api(tgb)
            .patch_status(name, &PatchParams::default(), &patch)
            .await
            .map(|_| ())
    }

    /// The targets a multi-cluster TargetGroupBinding registered, as LBC keeps them: the
    /// `targets` key of ConfigMap [`tracked_targets_name`] in the binding's namespace, a
    /// comma-separated list of `id:port`. `None`: no such ConfigMap.
    ///
    /// # Errors
    /// The API server refused the read.
    pub async fn tracked_targets(
        &self,
        tgb: &TargetGroupBinding,
    ) -> Result<Option<String>, kube::Error> {
        let cm = self
            .config_map_api(tgb)
            .get_opt(&tracked_targets_name(tgb))
            .await?;
        Ok(cm.map(|c| {
            c.data
                .and_then(|mut d| d.remove(TRACKED_TARGETS_KEY))
                .unwrap_or_default()
        }))
    }

    /// Writes the tracked targets (server-side apply, creating the ConfigMap when needed).
    ///
    /// # Errors
    /// The API server refused the write.
    pub async fn set_tracked_targets(
        &self,
        tgb: &TargetGroupBinding,
        csv: &str,
    ) -> Result<(), kube::Error> {
        let name = tracked_targets_name(tgb);
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name,
                "namespace": tgb.metadata.namespace.as_deref().unwrap_or("default")},
            "data": {TRACKED_TARGETS_KEY: csv},
        });
        self.config_map_api(tgb)
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&cm),
            )
            .await
            .map(|_| ())
    }

    /// Deletes the tracked targets' ConfigMap (already gone counts as done).
    ///
    /// # Errors
    /// The API server refused the delete.
    pub async fn delete_tracked_targets(
        &self,
        tgb: &TargetGroupBinding,
    ) -> Result<(), kube::Error> {
        match self
            .config_map_api(tgb)
            .delete(
                &tracked_targets_name(tgb),
                &kube::api::DeleteParams::default(),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn config_map_api(&self, tgb: &TargetGroupBinding) -> Api<ConfigMap> {
        Api::namespaced(
            self.client.clone(),
            tgb.metadata.namespace.as_deref().unwrap_or("default"),
        )
    }

    /// Publishes an event on a TargetGroupBinding (best effort, as [`KubeIo::event`]).
    pub async fn binding_event(
        &self,
        tgb: &TargetGroupBinding,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let key = format!(
            "targetgroupbinding/{}/{}",
            tgb.metadata.namespace.as_deref().unwrap_or_default(),
            tgb.metadata.name.as_deref().unwrap_or_default()
        );
        self.event_on(&tgb.object_ref(&()), &key, warning, reason, note)
            .await;
    }

    /// Sets `status.loadBalancer.ingress` to one entry with `hostname`.
    ///
    /// # Errors
    /// The API server refused the patch.
    pub async fn set_hostname(&self, obj: &ObjState, hostname: &str) -> Result<(), kube::Error> {
        let patch = json!({"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}});
        self.patch(obj, true, Patch::Merge(patch)).await
    }

    /// Merge-patches the status of a Gateway API object of `resource` (`namespace` empty:
    /// cluster-scoped).
    ///
    /// # Errors
    /// The API server refused the patch.
    pub async fn patch_gateway_status(
        &self,
        resource: &ApiResource,
        namespace: &str,
        name: &str,
        patch: serde_json::Value,
    ) -> Result<(), kube::Error> {
        let api: Api<DynamicObject> = if namespace.is_empty() {
            Api::all_with(self.client.clone(), resource)
        } else {
            Api::namespaced_with(self.client.clone(), namespace, resource)
        };
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map(|_| ())
    }

    /// Adds (`add`) or removes `finalizer` on a Gateway API object of `resource` (`namespace`
    /// empty: cluster-scoped), guarded as [`KubeIo::add_finalizer`] is: a list changed since
    /// `current` was cached fails the patch, retried on the next round.
    ///
    /// # Errors
    /// The API server refused the patch.
    pub async fn set_gateway_finalizer(
        &self,
        resource: &ApiResource,
        (namespace, name, uid): (&str, &str, Option<&str>),
        current: &[String],
        finalizer: &str,
        add: bool,
    ) -> Result<(), kube::Error> {
        let patch = if add {
            add_finalizer_patch(uid, current, finalizer)?
        } else {
            match remove_finalizer_patch(uid, current, finalizer)? {
                Some(p) => p,
                None => return Ok(()),
            }
        };
        let api: Api<DynamicObject> = if namespace.is_empty() {
            Api::all_with(self.client.clone(), resource)
        } else {
            Api::namespaced_with(self.client.clone(), namespace, resource)
        };
        api.patch(name, &PatchParams::default(), &patch)
            .await
            .map(|_| ())
    }

    /// Publishes an event on a Gateway API object (best effort, as [`KubeIo::event`]).
    pub async fn gateway_event(
        &self,
        reference: &ObjectReference,
        key: &str,
        reason: &str,
        note: String,
    ) {
        self.event_on(reference, key, true, reason, note).await;
    }

    /// Publishes an event on `obj` (failures are logged: events are best effort).
    pub async fn event(&self, obj: &ObjState, warning: bool, reason: &str, note: String) {
        self.event_on(&obj.reference(), &obj.key(), warning, reason, note)
            .await;
    }

    /// Publishes an event on `reference` (`key` names it in logs).
    async fn event_on(
        &self,
        reference: &ObjectReference,
        key: &str,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let type_ = if warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        if warning {
            tracing::warn!(object = %key, reason, note = %note, "event");
        } else {
            tracing::info!(object = %key, reason, note = %note, "event");
        }
        let mut note = note;
        if note.len() > 1000 {
            let mut cut = 1000;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        let ev = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        self.metrics.event(
            if warning {
                MetricEventType::Warning
            } else {
                MetricEventType::Normal
            },
            reason,
        );
        if let Err(e) = self.recorder.publish(&ev, reference).await {
            tracing::debug!(error = %e, "event not recorded");
        }
    }
}

/// A JSON patch appending `finalizer` to `current`, the list as the cache saw it, guarded by a
/// `test` op as kube-runtime's finalizer helper does: the list must still be exactly `current`
/// (absent when empty), so a lagging cache can never add the finalizer twice, and a list
/// changed meanwhile is never clobbered, and of `uid`, so an object deleted and created again
/// under the same name since the cache saw it is never touched. A failed test is a 422; the
/// next reconcile, on a fresher cache, tries again.
fn add_finalizer_patch(
    uid: Option<&str>,
    current: &[String],
    finalizer: &str,
) -> Result<Patch<serde_json::Value>, kube::Error> {
    let mut ops = uid_test(uid);
    if current.is_empty() {
        ops.push(json!({"op": "test", "path": "/metadata/finalizers", "value": null}));
        ops.push(json!({"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}));
    } else {
        ops.push(json!({"op": "test", "path": "/metadata/finalizers", "value": current}));
        ops.push(json!({"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}));
    }
    Ok(Patch::Json(
        serde_json::from_value(serde_json::Value::Array(ops)).map_err(kube::Error::SerdeError)?,
    ))
}

/// A `test` that the object is still the one of `uid` (none when the uid is not known).
fn uid_test(uid: Option<&str>) -> Vec<serde_json::Value> {
    uid.filter(|u| !u.is_empty())
        .map(|u| json!({"op": "test", "path": "/metadata/uid", "value": u}))
        .into_iter()
        .collect()
}

/// A JSON patch removing `finalizer` from `current`, guarded by `test` ops so a list changed
/// meanwhile is never clobbered and an object recreated under the same name (another `uid`)
/// is never touched; `None` when it is not there.
fn remove_finalizer_patch(
    uid: Option<&str>,
    current: &[String],
    finalizer: &str,
) -> Result<Option<Patch<serde_json::Value>>, kube::Error> {
    let Some(i) = current.iter().position(|f| f == finalizer) else {
        return Ok(None);
    };
    let mut ops = uid_test(uid);
    ops.push(
        json!({"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": finalizer}),
    );
    ops.push(json!({"op": "remove", "path": format!("/metadata/finalizers/{i}")}));
    Ok(Some(Patch::Json(
        serde_json::from_value(serde_json::Value::Array(ops)).map_err(kube::Error::SerdeError)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Gateway's finalizers name its stack (ALB or NLB class), its key and event reference
    /// are a Gateway's, and its addresses are read from `status.addresses`.
    #[test]
    fn gateways_finalize_their_alb_or_nlb_stack() {
        let g: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "edge", "namespace": "web", "uid": "u-1",
                "finalizers": ["gateway.k8s.aws/alb", "gateway.k8s.aws/nlb", "example.com/x"]},
            "status": {"addresses": [{"type": "Hostname", "value": "lb.example"}]}
        }))
        .unwrap();
        let o = ObjState::gateway(&g);
        assert_eq!(o.key(), "gateway/web/edge");
        assert_eq!(o.hostnames, ["lb.example"]);
        assert_eq!(
            o.finalized_stacks(),
            vec![
                (
                    ALB_GATEWAY_FINALIZER.to_owned(),
                    StackId::gateway("web", "edge")
                ),
                (
                    NLB_GATEWAY_FINALIZER.to_owned(),
                    StackId::nlb_gateway("web", "edge")
                ),
            ]
        );
        assert_eq!(
            finalizer_for(&StackId::gateway("web", "edge")),
            ALB_GATEWAY_FINALIZER
        );
        assert_eq!(
            finalizer_for(&StackId::nlb_gateway("web", "edge")),
            NLB_GATEWAY_FINALIZER
        );
        let r = o.reference();
        assert_eq!(r.kind.as_deref(), Some("Gateway"));
        assert_eq!(
            r.api_version.as_deref(),
            Some("gateway.networking.k8s.io/v1")
        );
        assert_eq!(r.uid.as_deref(), Some("u-1"));
    }
}
