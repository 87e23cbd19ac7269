//! Trimming Kubernetes objects to the fields the translation reads.
//!
//! `managedFields`, the `last-applied-configuration` annotation, Node status, Service
//! labels, selectors and cluster IPs, EndpointSlice annotations, owner references and every endpoint
//! field but addresses and conditions are never read by the model, and they dominate the size
//! of a large cluster's objects. The controller's watch caches (`controller::stores`) drop
//! the same fields; `plan`/`diff` reading a cluster use these functions so that both see the
//! same objects. Pure functions over k8s-openapi types: no client, no I/O.
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use kube::Resource;

/// Annotation `kubectl apply` keeps a full copy of the object in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops `managedFields` and the last-applied annotation (every kind).
pub fn strip<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

/// An untyped object without its `status` (the Gateway API kinds whose status the controller
/// neither reads nor writes: ReferenceGrant, LoadBalancerConfiguration).
pub fn drop_status(o: &mut kube::api::DynamicObject) {
    if let Some(fields) = o.data.as_object_mut() {
        fields.remove("status");
    }
}

/// A Node as the model reads it: providerID and labels (status dropped).
pub fn trim_node(n: &mut Node) {
    n.status = None;
}

/// A Service as the model reads it: endpoints come from EndpointSlices, so the selector and
/// cluster IPs are dropped, and so are the labels, IPv4-only IP families, session affinity and
/// internal traffic policy, which the model never reads (IP families naming IPv6 are kept: they
/// give IPv6 target groups) (every Service of the cluster is cached, most
/// of them only in case an Ingress comes to use them: 10,000 of them carried 5 MB of labels).
pub fn trim_service(s: &mut Service) {
    s.metadata.labels = None;
    if let Some(spec) = s.spec.as_mut() {
        spec.selector = None;
        spec.cluster_ips = None;
        spec.cluster_ip = None;
        // Read only for IPv6 (IPv6 target groups); IPv4 alone, the common case, reads as absent.
        if !spec
            .ip_families
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == "IPv6"))
        {
            spec.ip_families = None;
        }
        spec.ip_family_policy = None;
        spec.session_affinity = None;
        spec.internal_traffic_policy = None;
    }
}

/// An EndpointSlice as the model reads it: address type, ports, and each endpoint's
/// addresses and conditions.
pub fn trim_slice(s: &mut EndpointSlice) {
    s.metadata.annotations = None;
    s.metadata.owner_references = None;
    for e in &mut s.endpoints {
        *e = Endpoint {
            addresses: std::mem::take(&mut e.addresses),
            conditions: e.conditions.take(),
            ..Default::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_status_keeps_the_spec() {
        let mut o: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "gateway.k8s.aws/v1beta1", "kind": "LoadBalancerConfiguration",
            "metadata": {"name": "c", "namespace": "web"},
            "spec": {"scheme": "internal"}, "status": {"observedGeneration": 3}
        }))
        .unwrap();
        drop_status(&mut o);
        assert_eq!(o.data, serde_json::json!({"spec": {"scheme": "internal"}}));
    }

    #[test]
    fn trimmed_objects_keep_what_the_model_reads() {
        let mut slice: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop",
                "labels": {"kubernetes.io/service-name": "web"},
                "annotations": {"a": "b"},
                "managedFields": [{"manager": "kubectl"}],
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u"}]},
            "addressType": "IPv4",
            "ports": [{"port": 8080}],
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true},
                "nodeName": "n1", "zone": "a", "targetRef": {"kind": "Pod", "name": "p"}}]
        }))
        .unwrap();
        strip(&mut slice);
        trim_slice(&mut slice);
        let got = serde_json::to_value(&slice).unwrap();
        assert_eq!(
            got,
            serde_json::json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "web-1", "namespace": "shop",
                    "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4",
                "ports": [{"port": 8080}],
                "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true}}]
            })
        );

        let mut svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "annotations": {LAST_APPLIED: "{}", "keep": "1"},
                "labels": {"app": "web"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.1",
                "clusterIPs": ["10.96.0.1"], "ports": [{"port": 80}],
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                "type": "ClusterIP"}
        }))
        .unwrap();
        strip(&mut svc);
        trim_service(&mut svc);
        assert_eq!(
            serde_json::to_value(&svc).unwrap(),
            serde_json::json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "annotations": {"keep": "1"}},
                "spec": {"ports": [{"port": 80}], "type": "ClusterIP"}})
        );
        let mut v6: Service = serde_json::from_value(serde_json::json!({
            "spec": {"ipFamilies": ["IPv6", "IPv4"], "ipFamilyPolicy": "PreferDualStack"}
        }))
        .unwrap();
        trim_service(&mut v6);
        assert_eq!(
            serde_json::to_value(&v6).unwrap()["spec"],
            serde_json::json!({"ipFamilies": ["IPv6", "IPv4"]})
        );
    }
}
