//! Errors of the translation, each attached to the Kubernetes object that caused it.
use std::fmt;

use crate::model::StackId;

/// A Kubernetes object, as named in messages: `ingress namespace/name`, `ingressclass name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// Lower-case kind (`ingress`, `service`, `ingressclass`, `ingressclassparams`, `node`).
    pub kind: &'static str,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectRef {
    /// A namespaced object.
    #[must_use]
    pub fn namespaced(kind: &'static str, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A cluster-scoped object.
    #[must_use]
    pub fn cluster(kind: &'static str, name: &str) -> Self {
        Self {
            kind,
            namespace: String::new(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Longest value echoed whole in a message; longer values are cut (see [`shown`]).
pub const MAX_SHOWN_VALUE: usize = 200;

/// A value as quoted in messages: Rust-escaped and quoted, cut after [`MAX_SHOWN_VALUE`]
/// characters with the full length said, so a 10,000-character host does not flood an event.
#[must_use]
pub fn shown(value: &str) -> String {
    let chars = value.chars().count();
    if chars <= MAX_SHOWN_VALUE {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(MAX_SHOWN_VALUE).collect();
    let quoted = format!("{head:?}");
    let open = quoted.strip_suffix('"').unwrap_or(&quoted);
    format!("{open}…\" ({chars} characters)")
}

/// Why an object (or part of it) could not be translated.
///
/// Member-level problems are wrapped in [`BuildError::Excluded`], which says what happened to
/// the member; backend problems ([`BuildError::Backend`]) leave the member in its group and
/// make only the affected rules answer 503.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// An annotation (or IngressClassParams field) value cannot be used.
    #[error("{object}: annotation {key} has invalid value {}: expected {expected}", shown(.value))]
    InvalidAnnotation {
        /// Object carrying the annotation.
        object: ObjectRef,
        /// Full annotation key.
        key: String,
        /// Value as written.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A spec field value cannot be used.
    #[error("{object}: {field} has invalid value {}: expected {expected}", shown(.value))]
    InvalidField {
        /// Object carrying the field.
        object: ObjectRef,
        /// Field path, e.g. `spec.rules[0].http.paths[1].path`.
        field: String,
        /// Value as written.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A referenced object does not exist.
    #[error("{object}: {field} refers to {target}, which was not found")]
    NotFound {
        /// Object holding the reference.
        object: ObjectRef,
        /// Field or annotation holding the reference.
        field: String,
        /// The missing object.
        target: String,
    },
    /// A member sets an exclusive group setting to a different value than an earlier member.
    #[error(
        "{object}: {setting} is {} but {owner} already set {} for group {group}: expected the same value in every member that sets it",
        shown(.value),
        shown(.existing)
    )]
    Conflict {
        /// The later member.
        object: ObjectRef,
        /// The setting (annotation key or field).
        setting: String,
        /// This member's value.
        value: String,
        /// The value already in force.
        existing: String,
        /// The member that set it first.
        owner: ObjectRef,
        /// The group.
        group: StackId,
    },
    /// A second member of a group sets `spec.defaultBackend`.
    #[error(
        "{object}: spec.defaultBackend is set but {owner} already sets the default backend of group {group}: expected at most one member of a group with spec.defaultBackend"
    )]
    DuplicateDefaultBackend {
        /// The later member.
        object: ObjectRef,
        /// The member whose default backend is used.
        owner: ObjectRef,
        /// The group.
        group: StackId,
    },
    /// IngressClassParams `namespaceSelector` does not admit the Ingress's namespace.
    #[error(
        "{object}: ingressclass {class} uses ingressclassparams {params}, whose spec.namespaceSelector does not match namespace {namespace}: expected an ingress in a selected namespace"
    )]
    NamespaceNotAllowed {
        /// The Ingress.
        object: ObjectRef,
        /// IngressClass name.
        class: String,
        /// IngressClassParams name.
        params: String,
        /// The refused namespace.
        namespace: String,
    },
    /// An AWS quota would be exceeded.
    #[error("{object}: {what} would be {count}: expected at most {limit} (AWS quota)")]
    Limit {
        /// Object whose content exceeds the quota.
        object: ObjectRef,
        /// What is counted.
        what: String,
        /// The count.
        count: usize,
        /// The quota.
        limit: usize,
    },
    /// A backend cannot be resolved; rules and default actions forwarding to it answer 503.
    #[error("{object}: backend {backend}: {reason}; rules forwarding to it answer 503")]
    Backend {
        /// The Ingress.
        object: ObjectRef,
        /// `service namespace/name:port`.
        backend: String,
        /// What is wrong.
        reason: String,
    },
    /// A problem in something nothing uses yet (an `actions.<name>` no rule refers to): the
    /// object is built as if it were absent, and the error is reported before it matters.
    #[error("{reason}; {consequence}")]
    Unused {
        /// The object.
        object: ObjectRef,
        /// What happened (`no rule of ingress a/b uses it, so ingress a/b is still built`).
        consequence: String,
        /// Why.
        reason: Box<BuildError>,
    },
    /// A member left out of its group because of `reason`; the rest of the group is built.
    #[error("{reason}; {consequence}")]
    Excluded {
        /// The member.
        object: ObjectRef,
        /// What happened (`ingress a/b left out of group g`).
        consequence: String,
        /// Why.
        reason: Box<BuildError>,
    },
}

impl BuildError {
    /// The object the error is attached to.
    #[must_use]
    pub fn object(&self) -> &ObjectRef {
        match self {
            Self::InvalidAnnotation { object, .. }
            | Self::InvalidField { object, .. }
            | Self::NotFound { object, .. }
            | Self::Conflict { object, .. }
            | Self::DuplicateDefaultBackend { object, .. }
            | Self::NamespaceNotAllowed { object, .. }
            | Self::Limit { object, .. }
            | Self::Backend { object, .. }
            | Self::Unused { object, .. }
            | Self::Excluded { object, .. } => object,
        }
    }

    /// Wraps a member-level error: the member is left out of `group`.
    #[must_use]
    pub fn exclude(self, member: &ObjectRef, group: &StackId) -> Self {
        let consequence = if group.is_explicit() {
            format!("{member} left out of group {group}, the rest of the group is still built")
        } else {
            format!("no load balancer is built for {member}")
        };
        Self::Excluded {
            object: member.clone(),
            consequence,
            reason: Box::new(self),
        }
    }

    /// Wraps an error that keeps a member out of every group (its class, IngressClassParams
    /// or group name cannot be used), saying so.
    #[must_use]
    pub fn ungrouped(self, member: &ObjectRef) -> Self {
        Self::Excluded {
            object: member.clone(),
            consequence: format!(
                "{member} joins no group, so no load balancer or listener rule is built for it"
            ),
            reason: Box::new(self),
        }
    }

    /// A stable snake_case label for metrics.
    #[must_use]
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::InvalidAnnotation { .. } => "invalid_annotation",
            Self::InvalidField { .. } => "invalid_field",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::DuplicateDefaultBackend { .. } => "duplicate_default_backend",
            Self::NamespaceNotAllowed { .. } => "namespace_not_allowed",
            Self::Limit { .. } => "limit",
            Self::Backend { .. } => "backend",
            Self::Excluded { reason, .. } | Self::Unused { reason, .. } => reason.metric_label(),
        }
    }
}

/// Shorthand for an annotation error.
pub(crate) fn invalid_annotation(
    object: &ObjectRef,
    key: &str,
    value: &str,
    expected: impl Into<String>,
) -> BuildError {
    BuildError::InvalidAnnotation {
        object: object.clone(),
        key: key.to_owned(),
        value: value.to_owned(),
        expected: expected.into(),
    }
}

/// Shorthand for a field error.
pub(crate) fn invalid_field(
    object: &ObjectRef,
    field: impl Into<String>,
    value: &str,
    expected: impl Into<String>,
) -> BuildError {
    BuildError::InvalidField {
        object: object.clone(),
        field: field.into(),
        value: value.to_owned(),
        expected: expected.into(),
    }
}
