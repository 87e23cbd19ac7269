//! Desired settings that depend on what already exists, decided before planning.
use crate::model::{Scheme, Stack};

use super::ObservedStack;

/// LBC (`buildLoadBalancerScheme` in pkg/service/model_build_load_balancer.go): when nothing
/// chose a Service's scheme and its NLB already exists, the existing scheme is kept, and with
/// it the load balancer's name, instead of replacing the NLB with one of the default scheme.
/// `None` when the stack is to be planned as it is.
#[must_use]
pub fn keep_existing_scheme(stack: &Stack, observed: Option<&ObservedStack>) -> Option<Stack> {
    let names = stack.load_balancer.scheme_unset.as_ref()?;
    let lbs = &observed?.load_balancers;
    // Of duplicates, the one with a name of this stack (the one the planner keeps).
    let existing = lbs
        .iter()
        .find(|lb| lb.name == names.internal || lb.name == names.internet_facing)
        .or_else(|| lbs.first())?;
    let scheme = match existing.scheme.as_str() {
        "internal" => Scheme::Internal,
        "internet-facing" => Scheme::InternetFacing,
        _ => return None,
    };
    if scheme == stack.load_balancer.scheme {
        return None;
    }
    let mut kept = stack.clone();
    kept.load_balancer.scheme = scheme;
    kept.load_balancer.name = match scheme {
        Scheme::Internal => names.internal.clone(),
        Scheme::InternetFacing => names.internet_facing.clone(),
    };
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SchemeNames;
    use crate::planner::ObservedLoadBalancer;

    fn nlb(unset: bool) -> Stack {
        let mut s: Stack = serde_json::from_value(serde_json::json!({
            "id": "service:shop/edge",
            "loadBalancer": {
                "name": "k8s-shop-edge-internal", "type": "network", "scheme": "internal",
                "ipAddressType": "ipv4", "attributes": {}, "tags": {}
            },
            "listeners": [], "targetGroups": []
        }))
        .unwrap();
        if unset {
            s.load_balancer.scheme_unset = Some(SchemeNames {
                internal: "k8s-shop-edge-internal".into(),
                internet_facing: "k8s-shop-edge-public".into(),
            });
        }
        s
    }

    fn observed(scheme: &str) -> ObservedStack {
        ObservedStack {
            load_balancers: vec![ObservedLoadBalancer {
                scheme: scheme.into(),
                ..ObservedLoadBalancer::default()
            }],
            ..ObservedStack::default()
        }
    }

    #[test]
    fn an_existing_nlb_keeps_its_scheme_and_name_when_nothing_chose_one() {
        let public = observed("internet-facing");
        let kept = keep_existing_scheme(&nlb(true), Some(&public)).unwrap();
        assert_eq!(kept.load_balancer.scheme, Scheme::InternetFacing);
        assert_eq!(kept.load_balancer.name, "k8s-shop-edge-public");
        // Same scheme, no load balancer yet, or a scheme the user chose: planned as it is.
        assert_eq!(
            keep_existing_scheme(&nlb(true), Some(&observed("internal"))),
            None
        );
        assert_eq!(keep_existing_scheme(&nlb(true), None), None);
        assert_eq!(
            keep_existing_scheme(&nlb(true), Some(&ObservedStack::default())),
            None
        );
        assert_eq!(keep_existing_scheme(&nlb(false), Some(&public)), None);
    }
}
