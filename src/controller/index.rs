//! Which objects a watch event changed, for the incremental rebuild
//! ([`aws_lb_operator_core::translate::incremental`]): every event becomes a [`Change`] naming
//! the object (an EndpointSlice by the Service it belongs to), and [`SliceIndex`] keeps which
//! EndpointSlices belong to which Service, so that a relabelled or deleted slice names its
//! old Service too and a rebuild finds a Service's slices without scanning every slice.
use std::collections::{BTreeMap, HashMap};

use aws_lb_operator_core::translate::incremental::Change;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn namespace(meta: &ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// The change of an Ingress.
pub fn ingress(meta: &ObjectMeta) -> Change {
    Change::Ingress {
        namespace: namespace(meta),
        name: name(meta),
    }
}

/// The change of a Service.
pub fn service(meta: &ObjectMeta) -> Change {
    Change::Service {
        namespace: namespace(meta),
        name: name(meta),
    }
}

/// The change of a Secret (read by `auth-idp-oidc`).
pub fn secret(meta: &ObjectMeta) -> Change {
    Change::Secret {
        namespace: namespace(meta),
        name: name(meta),
    }
}

/// The change of an IngressClass.
pub fn ingress_class(meta: &ObjectMeta) -> Change {
    Change::IngressClass(name(meta))
}

/// The change of an IngressClassParams.
pub fn ingress_class_params(meta: &ObjectMeta) -> Change {
    Change::IngressClassParams(name(meta))
}

/// The change of a Node.
pub fn node(meta: &ObjectMeta) -> Change {
    Change::Node(name(meta))
}

/// The change of a Namespace.
pub fn namespace_change(meta: &ObjectMeta) -> Change {
    Change::Namespace(name(meta))
}

/// EndpointSlice (namespace, name) → the Service it belongs to, and back.
///
/// Kept compact, as it holds every slice of the cluster: keys are `namespace/name` (neither
/// can contain a `/`) in boxed strings, and a Service's slice names a sorted vector (most
/// Services have one slice; an ordered set would allocate a whole tree node for it).
#[derive(Debug, Default)]
pub struct SliceIndex {
    /// `namespace/slice` → the Service's name.
    service_of: HashMap<Box<str>, Box<str>>,
    /// `namespace/service` → its slices' names, sorted, without duplicates.
    slices_of: HashMap<Box<str>, Vec<Box<str>>>,
    /// The index being built while the watch lists again; it replaces this one when the list
    /// is complete, the moment the cache swaps in the listed objects too.
    relisting: Option<Box<SliceIndex>>,
}

/// The key of an object of namespace `ns` named `name`.
fn key(ns: &str, name: &str) -> Box<str> {
    format!("{ns}/{name}").into_boxed_str()
}

impl SliceIndex {
    /// A slice was added or changed: the Services whose endpoints changed (its Service, and
    /// the one it belonged to before if its label moved).
    /// `service` is the slice's `kubernetes.io/service-name` label.
    pub fn applied(&mut self, meta: &ObjectMeta, service: Option<&str>) -> Vec<Change> {
        let ns = namespace(meta);
        let slice = name(meta);
        let mut changes = self.forget(&ns, &slice);
        if let Some(svc) = service {
            self.service_of.insert(key(&ns, &slice), svc.into());
            let names = self.slices_of.entry(key(&ns, svc)).or_default();
            if let Err(at) = names.binary_search_by(|n| (**n).cmp(slice.as_str())) {
                names.insert(at, slice.into_boxed_str());
            }
            let change = Change::EndpointSlices {
                namespace: ns,
                service: svc.to_owned(),
            };
            if !changes.contains(&change) {
                changes.push(change);
            }
        }
        changes
    }

    /// A slice was deleted: the Service it belonged to.
    pub fn deleted(&mut self, meta: &ObjectMeta) -> Vec<Change> {
        self.forget(&namespace(meta), &name(meta))
    }

    fn forget(&mut self, ns: &str, slice: &str) -> Vec<Change> {
        let Some(svc) = self.service_of.remove(&*key(ns, slice)) else {
            return Vec::new();
        };
        let service_key = key(ns, &svc);
        if let Some(names) = self.slices_of.get_mut(&service_key) {
            if let Ok(at) = names.binary_search_by(|n| (**n).cmp(slice)) {
                names.remove(at);
            }
            if names.is_empty() {
                self.slices_of.remove(&service_key);
            }
        }
        vec![Change::EndpointSlices {
            namespace: ns.to_owned(),
            service: svc.into_string(),
        }]
    }

    /// The names of the slices of each Service in `services` (namespace, name), by Service.
    pub fn slices_of<'a>(
        &self,
        services: impl IntoIterator<Item = &'a (String, String)>,
    ) -> BTreeMap<(String, String), Vec<String>> {
        services
            .into_iter()
            .filter_map(|(ns, svc)| {
                let names = self.slices_of.get(&*key(ns, svc))?;
                Some((
                    (ns.clone(), svc.clone()),
                    names.iter().map(|n| n.to_string()).collect(),
                ))
            })
            .collect()
    }

    /// The watch lists again: a new index is built aside from the listed slices.
    pub fn relist_start(&mut self) {
        self.relisting = Some(Box::default());
    }

    /// A listed slice (for the index being built).
    pub fn relist_apply(&mut self, meta: &ObjectMeta, service: Option<&str>) {
        self.relisting
            .get_or_insert_with(Box::default)
            .applied(meta, service);
    }

    /// The list is complete: the index built aside replaces this one.
    pub fn relist_done(&mut self) {
        if let Some(fresh) = self.relisting.take() {
            *self = *fresh;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(ns: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..Default::default()
        }
    }

    fn of(ns: &str, svc: &str) -> Change {
        Change::EndpointSlices {
            namespace: ns.into(),
            service: svc.into(),
        }
    }

    fn slices(index: &SliceIndex, ns: &str, svc: &str) -> Vec<String> {
        let key = (ns.to_owned(), svc.to_owned());
        index.slices_of([&key]).remove(&key).unwrap_or_default()
    }

    #[test]
    fn slices_name_their_services_through_changes_relabels_and_deletes() {
        let mut index = SliceIndex::default();
        assert_eq!(
            index.applied(&slice("a", "web-1"), Some("web")),
            [of("a", "web")]
        );
        assert_eq!(
            index.applied(&slice("a", "web-2"), Some("web")),
            [of("a", "web")]
        );
        assert_eq!(
            index.applied(&slice("b", "web-1"), Some("web")),
            [of("b", "web")]
        );
        assert_eq!(slices(&index, "a", "web"), ["web-1", "web-2"]);
        // A change that keeps the label names the Service once.
        assert_eq!(
            index.applied(&slice("a", "web-2"), Some("web")),
            [of("a", "web")]
        );
        // A relabelled slice changed the endpoints of both Services.
        assert_eq!(
            index.applied(&slice("a", "web-2"), Some("api")),
            [of("a", "web"), of("a", "api")]
        );
        assert_eq!(slices(&index, "a", "web"), ["web-1"]);
        assert_eq!(slices(&index, "a", "api"), ["web-2"]);
        // A slice that loses its label leaves its Service.
        assert_eq!(index.applied(&slice("a", "web-1"), None), [of("a", "web")]);
        assert!(slices(&index, "a", "web").is_empty());
        assert_eq!(index.deleted(&slice("a", "web-2")), [of("a", "api")]);
        assert!(slices(&index, "a", "api").is_empty());
        // Deleting a slice never seen, or without a Service, changes nothing.
        assert!(index.deleted(&slice("a", "web-1")).is_empty());
        assert!(index.deleted(&slice("c", "x")).is_empty());
        assert_eq!(slices(&index, "b", "web"), ["web-1"]);
    }

    #[test]
    fn a_relist_replaces_the_index_only_when_complete() {
        let mut index = SliceIndex::default();
        index.applied(&slice("a", "web-1"), Some("web"));
        index.applied(&slice("a", "old-1"), Some("old"));
        index.relist_start();
        index.relist_apply(&slice("a", "web-1"), Some("web"));
        index.relist_apply(&slice("a", "web-2"), Some("web"));
        // Until the list is complete (and the cache swapped), the old index answers.
        assert_eq!(slices(&index, "a", "web"), ["web-1"]);
        assert_eq!(slices(&index, "a", "old"), ["old-1"]);
        index.relist_done();
        assert_eq!(slices(&index, "a", "web"), ["web-1", "web-2"]);
        assert!(slices(&index, "a", "old").is_empty());
        // A second `done` without a list changes nothing.
        index.relist_done();
        assert_eq!(slices(&index, "a", "web"), ["web-1", "web-2"]);
    }

    #[test]
    fn objects_name_their_changes() {
        let meta = slice("shop", "web");
        assert_eq!(
            ingress(&meta),
            Change::Ingress {
                namespace: "shop".into(),
                name: "web".into()
            }
        );
        assert_eq!(
            service(&meta),
            Change::Service {
                namespace: "shop".into(),
                name: "web".into()
            }
        );
        assert_eq!(node(&meta), Change::Node("web".into()));
        assert_eq!(ingress_class(&meta), Change::IngressClass("web".into()));
        assert_eq!(
            ingress_class_params(&meta),
            Change::IngressClassParams("web".into())
        );
        assert_eq!(namespace_change(&meta), Change::Namespace("web".into()));
    }
}
