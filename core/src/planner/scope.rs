//! What a change or a planning error concerns: the cluster-wide resources every stack of the
//! cluster shares (the backend security group and its permissions on the target groups), or
//! one stack.
//!
//! In the `plan -o json` / `diff -o json` contract the scope is the `stack` field, a string:
//! empty for the cluster, the stack's display id otherwise. [`Scope`] serialises exactly so.
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::StackId;

/// The cluster scope, or one stack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Cluster-wide resources (the backend security group and the target-group rules).
    Cluster,
    /// One stack.
    Stack(StackId),
}

impl Scope {
    /// The scope a `stack` field names: empty is the cluster.
    #[must_use]
    pub fn of_field(stack: &str) -> Self {
        if stack.is_empty() {
            Self::Cluster
        } else {
            Self::Stack(StackId::parse(stack))
        }
    }

    /// True for [`Scope::Cluster`].
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster)
    }

    /// The stack, for [`Scope::Stack`].
    #[must_use]
    pub fn stack(&self) -> Option<&StackId> {
        match self {
            Self::Cluster => None,
            Self::Stack(id) => Some(id),
        }
    }
}

impl From<StackId> for Scope {
    fn from(id: StackId) -> Self {
        Self::Stack(id)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cluster => Ok(()),
            Self::Stack(id) => id.fmt(f),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(Self::of_field(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_the_stack_field_always_did() {
        let cases = [
            (Scope::Cluster, "\"\""),
            (
                Scope::Stack(StackId::implicit("shop", "web")),
                "\"shop/web\"",
            ),
            (Scope::Stack(StackId::explicit("shop")), "\"shop\""),
            (
                Scope::Stack(StackId::service("shop", "db")),
                "\"service:shop/db\"",
            ),
        ];
        for (scope, json) in cases {
            assert_eq!(serde_json::to_string(&scope).unwrap(), json);
            assert_eq!(serde_json::from_str::<Scope>(json).unwrap(), scope);
            assert_eq!(Scope::of_field(&scope.to_string()), scope);
        }
        assert!(Scope::Cluster.is_cluster());
        assert_eq!(Scope::Cluster.stack(), None);
        let web = StackId::implicit("shop", "web");
        assert_eq!(Scope::from(web.clone()).stack(), Some(&web));
        assert!(!Scope::from(web).is_cluster());
    }
}
