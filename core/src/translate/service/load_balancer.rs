//! The Network Load Balancer of a Service: name, scheme, subnets and their Elastic IPs or
//! private addresses, security groups or the source ranges of the managed one, attributes, tags.
use super::annotations::{defaults, EIP_ALLOCATIONS, PRIVATE_IPV4_ADDRESSES, SCHEME, SUBNETS};
use super::{generated_name, ServiceContext};
use crate::model::{tags, IpAddressType, LoadBalancerSpec, LoadBalancerType, Scheme, SchemeNames};
use crate::translate::annotations::is_cidr;
use crate::translate::error::{invalid_annotation, invalid_field, BuildError};

/// Generated NLB name (LBC): `k8s-<ns[:8]>-<name[:8]>-<hash10>`, hash =
/// `sha256(cluster ‖ service uid ‖ scheme)`. The uid, not the name, is hashed, so a Service
/// deleted and re-created under the same name gets a new load balancer.
#[must_use]
pub fn load_balancer_name(
    cluster: &str,
    namespace: &str,
    name: &str,
    uid: &str,
    scheme: Scheme,
) -> String {
    generated_name(namespace, name, &[cluster, uid, scheme.as_str()])
}

/// The scheme: `aws-load-balancer-scheme`, else the deprecated `aws-load-balancer-internal`,
/// else `internet-facing` for a Service taken over from the in-tree `nlb` type (whose default
/// it is), else the configured default (`internal`).
pub(crate) fn scheme(ctx: &ServiceContext<'_>) -> Scheme {
    ctx.settings.scheme.unwrap_or(if ctx.in_tree {
        Scheme::InternetFacing
    } else {
        ctx.index.config.default_scheme
    })
}

/// Checks one list of per-subnet addresses: allowed for `scheme` only, one per subnet.
fn per_subnet(
    ctx: &ServiceContext<'_>,
    key: &str,
    values: Option<&Vec<String>>,
    needs: Scheme,
    what: &str,
    scheme: Scheme,
) -> Result<Vec<String>, BuildError> {
    let Some(values) = values else {
        return Ok(Vec::new());
    };
    let raw = values.join(",");
    if scheme != needs {
        return Err(invalid_annotation(
            &ctx.object,
            key,
            &raw,
            format!(
                "no {what} on an {scheme} load balancer: they need scheme {needs} (annotation {SCHEME})"
            ),
        ));
    }
    if let Some(subnets) = &ctx.settings.subnets {
        if subnets.len() != values.len() {
            return Err(invalid_annotation(
                &ctx.object,
                key,
                &raw,
                format!(
                    "one value per subnet of annotation {SUBNETS} ({} subnets, {} values), in the same order",
                    subnets.len(),
                    values.len()
                ),
            ));
        }
    }
    Ok(values.clone())
}

/// Source CIDRs of the managed security group: `spec.loadBalancerSourceRanges`, else the
/// `load-balancer-source-ranges` annotation, else none with
/// `aws-load-balancer-security-group-prefix-lists`, else everything.
fn inbound_cidrs(
    ctx: &ServiceContext<'_>,
    ip_address_type: IpAddressType,
) -> Result<Vec<String>, BuildError> {
    let spec_ranges = ctx
        .svc
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_source_ranges.as_ref())
        .filter(|r| !r.is_empty());
    if let Some(ranges) = spec_ranges {
        let mut out = Vec::with_capacity(ranges.len());
        for (i, range) in ranges.iter().enumerate() {
            let range = range.trim();
            if !is_cidr(range) {
                return Err(invalid_field(
                    &ctx.object,
                    format!("spec.loadBalancerSourceRanges[{i}]"),
                    range,
                    "an IPv4 or IPv6 CIDR such as 10.0.0.0/8",
                ));
            }
            out.push(range.to_owned());
        }
        return Ok(out);
    }
    if let Some(ranges) = &ctx.settings.source_ranges {
        return Ok(ranges.clone());
    }
    // As LBC: prefix lists alone let nothing else in.
    if ctx.settings.prefix_lists.is_some() {
        return Ok(Vec::new());
    }
    let mut out = vec![defaults::SOURCE_RANGE_IPV4.to_owned()];
    if ip_address_type == IpAddressType::Dualstack {
        out.push(defaults::SOURCE_RANGE_IPV6.to_owned());
    }
    Ok(out)
}

/// Builds the load balancer of a Service.
pub(crate) fn build(ctx: &ServiceContext<'_>) -> Result<LoadBalancerSpec, BuildError> {
    let s = &ctx.settings;
    let scheme = scheme(ctx);
    let ip_address_type = s.ip_address_type.unwrap_or(IpAddressType::Ipv4);
    let eip_allocations = per_subnet(
        ctx,
        EIP_ALLOCATIONS,
        s.eip_allocations.as_ref(),
        Scheme::InternetFacing,
        "Elastic IP allocations",
        scheme,
    )?;
    let private_ipv4_addresses = per_subnet(
        ctx,
        PRIVATE_IPV4_ADDRESSES,
        s.private_ipv4_addresses.as_ref(),
        Scheme::Internal,
        "private IPv4 addresses",
        scheme,
    )?;
    let addresses_set = !eip_allocations.is_empty() || !private_ipv4_addresses.is_empty();
    let security_groups = s.security_groups.clone().unwrap_or_default();
    let inbound_cidrs = if security_groups.is_empty() {
        inbound_cidrs(ctx, ip_address_type)?
    } else {
        Vec::new()
    };
    let inbound_prefix_lists = if security_groups.is_empty() {
        s.prefix_lists.clone().unwrap_or_default()
    } else {
        Vec::new()
    };
    // As LBC: the rules go on the managed security group only.
    let security_groups_empty = security_groups.is_empty();
    Ok(LoadBalancerSpec {
        name: s.name.clone().unwrap_or_else(|| {
            load_balancer_name(ctx.cluster(), &ctx.namespace, &ctx.name, ctx.uid(), scheme)
        }),
        lb_type: LoadBalancerType::Network,
        scheme,
        ip_address_type,
        subnets: s.subnets.clone().unwrap_or_default(),
        subnet_tags: Default::default(),
        security_groups,
        inbound_cidrs,
        inbound_prefix_lists,
        icmp_for_path_mtu_discovery: security_groups_empty && s.icmp_for_path_mtu_discovery,
        manage_backend_security_group_rules: !security_groups_empty
            && s.manage_backend_sg_rules
                .unwrap_or(ctx.index.config.manage_backend_security_group_rules),
        eip_allocations,
        private_ipv4_addresses,
        attributes: s.attributes.clone(),
        tags: tags::with_tracking(
            &s.tags,
            ctx.cluster(),
            &ctx.stack,
            tags::LOAD_BALANCER_RESOURCE,
        ),
        // As LBC: without a scheme annotation an existing NLB keeps its scheme. Only the
        // configured default is open to that, not the in-tree type's internet-facing, and not
        // when per-subnet addresses tie the load balancer to one scheme.
        wafv2_web_acl: None,
        shield_advanced_protection: None,
        scheme_unset: (s.scheme.is_none() && !ctx.in_tree && !addresses_set).then(|| {
            let name = |scheme| {
                s.name.clone().unwrap_or_else(|| {
                    load_balancer_name(ctx.cluster(), &ctx.namespace, &ctx.name, ctx.uid(), scheme)
                })
            };
            SchemeNames {
                internal: name(Scheme::Internal),
                internet_facing: name(Scheme::InternetFacing),
            }
        }),
    })
}
