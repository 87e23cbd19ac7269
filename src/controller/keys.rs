//! The one identity of a Kubernetes object in the controller: [`ObjectKey`].
//!
//! Displayed as `kind/namespace/name` (`ingress/shop/web`), the form the translation's claims,
//! `Stack::objects` and the DNS registry use, so a key compares equal to theirs through
//! [`ObjectKey::parse`] and [`fmt::Display`].
use std::fmt;

use aws_lb_operator_core::translate::ObjectRef;

use super::kube_io::{ObjKind, ObjState};
use crate::crd::TargetGroupBinding;

/// Kind of object, as its key spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// `networking.k8s.io/v1` Ingress (`ingress`).
    Ingress,
    /// `v1` Service (`service`).
    Service,
    /// `elbv2.k8s.aws/v1beta1` TargetGroupBinding (`targetgroupbinding`).
    TargetGroupBinding,
    /// `gateway.networking.k8s.io/v1` Gateway (`gateway`).
    Gateway,
    /// Any other kind the translation names in errors (`ingressclass`, `node`, ...).
    Other(&'static str),
}

impl ObjectKind {
    /// The lower-case kind, as in keys and in the `kind` label of metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Service => "service",
            Self::TargetGroupBinding => "targetgroupbinding",
            Self::Gateway => "gateway",
            Self::Other(kind) => kind,
        }
    }

    fn from_ref_kind(kind: &'static str) -> Self {
        match kind {
            "ingress" => Self::Ingress,
            "service" => Self::Service,
            "targetgroupbinding" => Self::TargetGroupBinding,
            "gateway" => Self::Gateway,
            other => Self::Other(other),
        }
    }
}

impl From<ObjKind> for ObjectKind {
    fn from(kind: ObjKind) -> Self {
        match kind {
            ObjKind::Ingress => Self::Ingress,
            ObjKind::Service => Self::Service,
            ObjKind::Gateway => Self::Gateway,
        }
    }
}

/// A Kubernetes object: kind, namespace (empty when cluster-scoped) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Kind.
    pub kind: ObjectKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key from its parts.
    pub fn new(kind: ObjectKind, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The key of an Ingress or Service as the controller tracks it.
    pub fn of(obj: &ObjState) -> Self {
        Self::new(obj.kind.into(), &obj.namespace, &obj.name)
    }

    /// The key of a TargetGroupBinding.
    pub fn binding(tgb: &TargetGroupBinding) -> Self {
        Self::new(
            ObjectKind::TargetGroupBinding,
            tgb.metadata.namespace.as_deref().unwrap_or_default(),
            tgb.metadata.name.as_deref().unwrap_or_default(),
        )
    }

    /// The key of an object the translation names in an error.
    pub fn of_ref(obj: &ObjectRef) -> Self {
        Self::new(
            ObjectKind::from_ref_kind(obj.kind),
            &obj.namespace,
            &obj.name,
        )
    }

    /// Parses the display form of an Ingress, Service, TargetGroupBinding or Gateway key
    /// (`ingress/shop/web`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, rest) = text.split_once('/')?;
        let (namespace, name) = rest.split_once('/')?;
        let kind = match kind {
            "ingress" => ObjectKind::Ingress,
            "service" => ObjectKind::Service,
            "targetgroupbinding" => ObjectKind::TargetGroupBinding,
            "gateway" => ObjectKind::Gateway,
            _ => return None,
        };
        (!name.is_empty() && !name.contains('/')).then(|| Self::new(kind, namespace, name))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind.as_str(), self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_display_form() {
        const CASES: &[(&str, Option<&str>)] = &[
            ("ingress/shop/web", Some("ingress/shop/web")),
            ("service/shop/db", Some("service/shop/db")),
            ("gateway/web/edge", Some("gateway/web/edge")),
            (
                "targetgroupbinding/shop/tgb",
                Some("targetgroupbinding/shop/tgb"),
            ),
            ("ingressclass//alb", None),
            ("ingress/shop", None),
            ("ingress/shop/web/extra", None),
            ("ingress/shop/", None),
        ];
        for (text, want) in CASES {
            let got = ObjectKey::parse(text).map(|k| k.to_string());
            assert_eq!(got.as_deref(), *want, "{text}");
        }
        let error_ref = ObjectRef::cluster("ingressclass", "alb");
        let key = ObjectKey::of_ref(&error_ref);
        assert_eq!(key.to_string(), "ingressclass//alb");
        assert_eq!(key.kind.as_str(), "ingressclass");
        assert_eq!(
            ObjectKey::of_ref(&ObjectRef::namespaced("ingress", "shop", "web")),
            ObjectKey::new(ObjectKind::Ingress, "shop", "web")
        );
    }
}
