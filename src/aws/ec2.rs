//! EC2 adapters: subnets (discovery and lookup by id or tag) and security groups.
use aws_lb_operator_core::discovery::{
    select_subnets, SubnetCandidate, SubnetRole, SubnetSelection, Tags,
};
use aws_lb_operator_core::planner::{ObservedSecurityGroup, SgPermission, SgSource};
use aws_sdk_ec2::types::{Filter, IpPermission, SecurityGroup, Subnet, Tag};
use aws_sdk_ec2::Client;

use super::error::{AwsError, Result};

const SERVICE: &str = "ec2";

/// An EC2 filter `name` matching any of `values`.
pub fn filter<I, S>(name: &str, values: I) -> Filter
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let values: Vec<String> = values.into_iter().map(Into::into).collect();
    Filter::builder()
        .name(name)
        .set_values(Some(values))
        .build()
}

/// EC2 tags as a map (tags without a key are dropped).
pub fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn subnet_candidate(s: &Subnet) -> Option<SubnetCandidate> {
    Some(SubnetCandidate {
        id: s.subnet_id()?.to_owned(),
        availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
        vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
        available_ips: i64::from(s.available_ip_address_count().unwrap_or(0)),
        tags: tags_of(s.tags()),
    })
}

/// Subnets matching every filter, fully paginated, sorted by ID.
pub async fn describe_subnets(
    client: &Client,
    filters: Vec<Filter>,
) -> Result<Vec<SubnetCandidate>> {
    let mut pages = client
        .describe_subnets()
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "DescribeSubnets", e))?;
        out.extend(page.subnets().iter().filter_map(subnet_candidate));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Subnets carrying the role tag for `role` (optionally only in `vpc_id`), fully paginated.
pub async fn list_subnet_candidates(
    client: &Client,
    role: SubnetRole,
    vpc_id: Option<&str>,
) -> Result<Vec<SubnetCandidate>> {
    let mut filters = vec![filter("tag-key", [role.tag_key()])];
    if let Some(vpc) = vpc_id {
        filters.push(filter("vpc-id", [vpc]));
    }
    describe_subnets(client, filters).await
}

/// Discovers the subnets a load balancer of `role` in `cluster` should use: one per zone, by
/// the standard role tags, excluding subnets tagged for other clusters.
pub async fn discover_subnets(
    client: &Client,
    cluster: &str,
    role: SubnetRole,
    vpc_id: Option<&str>,
) -> Result<SubnetSelection> {
    let candidates = list_subnet_candidates(client, role, vpc_id).await?;
    Ok(select_subnets(&candidates, cluster, role))
}

/// Flattens one EC2 permission into one [`SgPermission`] per source (CIDRs, security groups,
/// managed prefix lists).
pub fn flatten_permission(p: &IpPermission) -> Vec<SgPermission> {
    // EC2 reports a protocol by number when it has no name for it (ICMPv6 as "58"): compare
    // by the names the planner writes.
    let protocol = match p.ip_protocol().unwrap_or("-1") {
        "1" => "icmp",
        "6" => "tcp",
        "17" => "udp",
        "58" => "icmpv6",
        other => other,
    }
    .to_owned();
    let (from_port, to_port) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
    let one = |source: SgSource, description: Option<&str>| SgPermission {
        protocol: protocol.clone(),
        from_port,
        to_port,
        source,
        description: description.filter(|d| !d.is_empty()).map(str::to_owned),
    };
    let mut out = Vec::new();
    for r in p.ip_ranges() {
        if let Some(cidr) = r.cidr_ip() {
            out.push(one(SgSource::Cidr(cidr.to_owned()), r.description()));
        }
    }
    for r in p.ipv6_ranges() {
        if let Some(cidr) = r.cidr_ipv6() {
            out.push(one(SgSource::CidrV6(cidr.to_owned()), r.description()));
        }
    }
    for g in p.user_id_group_pairs() {
        if let Some(id) = g.group_id() {
            out.push(one(SgSource::Group(id.to_owned()), g.description()));
        }
    }
    for l in p.prefix_list_ids() {
        if let Some(id) = l.prefix_list_id() {
            out.push(one(SgSource::PrefixList(id.to_owned()), l.description()));
        }
    }
    out
}

/// A security group with its ingress permissions flattened and sorted.
pub fn observed_security_group(g: &SecurityGroup) -> Option<ObservedSecurityGroup> {
    let mut ingress: Vec<SgPermission> = g
        .ip_permissions()
        .iter()
        .flat_map(flatten_permission)
        .collect();
    ingress.sort();
    ingress.dedup();
    Some(ObservedSecurityGroup {
        id: g.group_id()?.to_owned(),
        name: g.group_name().unwrap_or_default().to_owned(),
        vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
        tags: tags_of(g.tags()),
        ingress,
    })
}

/// Security groups matching every filter, fully paginated, sorted by ID.
pub async fn describe_security_groups(
    client: &Client,
    filters: Vec<Filter>,
) -> Result<Vec<ObservedSecurityGroup>> {
    let mut pages = client
        .describe_security_groups()
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "DescribeSecurityGroups", e))?;
        out.extend(
            page.security_groups()
                .iter()
                .filter_map(observed_security_group),
        );
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Every security group in `vpc_id`.
pub async fn list_security_groups(
    client: &Client,
    vpc_id: &str,
) -> Result<Vec<ObservedSecurityGroup>> {
    describe_security_groups(client, vec![filter("vpc-id", [vpc_id])]).await
}

/// A network interface and its security groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceGroups {
    /// `eni-…`.
    pub eni: String,
    /// Its security group ids, in the order EC2 lists them.
    pub groups: Vec<String>,
}

/// Most values in one EC2 filter (LBC's chunk: 200 filter values, less the VPC filter).
const FILTER_VALUES: usize = 199;

/// The primary network interface (device index 0) of each instance, by instance id.
/// Instances EC2 does not know are left out.
pub async fn instance_primary_interfaces(
    client: &Client,
    instance_ids: &[String],
) -> Result<std::collections::BTreeMap<String, InterfaceGroups>> {
    let mut out = std::collections::BTreeMap::new();
    for chunk in instance_ids.chunks(FILTER_VALUES) {
        let mut pages = client
            .describe_instances()
            .filters(filter("instance-id", chunk.iter().cloned()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "DescribeInstances", e))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                let Some(id) = i.instance_id() else { continue };
                let primary = i.network_interfaces().iter().find(|n| {
                    n.attachment().and_then(
                        aws_sdk_ec2::types::InstanceNetworkInterfaceAttachment::device_index,
                    ) == Some(0)
                });
                let Some(eni) = primary else { continue };
                out.insert(
                    id.to_owned(),
                    InterfaceGroups {
                        eni: eni.network_interface_id().unwrap_or_default().to_owned(),
                        groups: eni
                            .groups()
                            .iter()
                            .filter_map(|g| g.group_id().map(str::to_owned))
                            .collect(),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// The network interface holding each private IP address in `vpc_id`, by address.
/// Addresses no interface holds are left out.
pub async fn interfaces_by_address(
    client: &Client,
    vpc_id: &str,
    addresses: &[String],
) -> Result<std::collections::BTreeMap<String, InterfaceGroups>> {
    let wanted: std::collections::BTreeSet<&str> = addresses.iter().map(String::as_str).collect();
    let mut out = std::collections::BTreeMap::new();
    for chunk in addresses.chunks(FILTER_VALUES) {
        let mut pages = client
            .describe_network_interfaces()
            .filters(filter("vpc-id", [vpc_id]))
            .filters(filter(
                "addresses.private-ip-address",
                chunk.iter().cloned(),
            ))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk(SERVICE, "DescribeNetworkInterfaces", e))?;
            for n in page.network_interfaces() {
                let found = InterfaceGroups {
                    eni: n.network_interface_id().unwrap_or_default().to_owned(),
                    groups: n
                        .groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_owned))
                        .collect(),
                };
                let ips = n
                    .private_ip_addresses()
                    .iter()
                    .filter_map(|a| a.private_ip_address())
                    .chain(n.private_ip_address());
                for ip in ips {
                    if wanted.contains(ip) {
                        out.insert(ip.to_owned(), found.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Security groups by id (ids EC2 does not know are left out).
pub async fn security_groups_by_id(
    client: &Client,
    ids: &[String],
) -> Result<Vec<ObservedSecurityGroup>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(FILTER_VALUES) {
        out.extend(
            describe_security_groups(client, vec![filter("group-id", chunk.iter().cloned())])
                .await?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};

    #[test]
    fn permissions_flatten_to_one_source_each() {
        let p = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(443)
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip("10.0.0.0/8")
                    .description("a")
                    .build(),
            )
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6("::/0")
                    .description("")
                    .build(),
            )
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id("sg-1")
                    .description("b")
                    .build(),
            )
            .prefix_list_ids(PrefixListId::builder().prefix_list_id("pl-1").build())
            .build();
        let perm = |source, description: Option<&str>| SgPermission {
            protocol: "tcp".into(),
            from_port: 80,
            to_port: 443,
            source,
            description: description.map(str::to_owned),
        };
        assert_eq!(
            flatten_permission(&p),
            vec![
                perm(SgSource::Cidr("10.0.0.0/8".into()), Some("a")),
                perm(SgSource::Cidr("0.0.0.0/0".into()), None),
                perm(SgSource::CidrV6("::/0".into()), None),
                perm(SgSource::Group("sg-1".into()), Some("b")),
                perm(SgSource::PrefixList("pl-1".into()), None),
            ]
        );
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .build();
        let got = flatten_permission(&all);
        assert_eq!(
            (got[0].protocol.as_str(), got[0].from_port, got[0].to_port),
            ("-1", -1, -1)
        );
        for (number, name) in [("58", "icmpv6"), ("1", "icmp"), ("icmpv6", "icmpv6")] {
            let p = IpPermission::builder()
                .ip_protocol(number)
                .from_port(2)
                .to_port(0)
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build();
            assert_eq!(flatten_permission(&p)[0].protocol, name, "{number}");
        }
    }
}
