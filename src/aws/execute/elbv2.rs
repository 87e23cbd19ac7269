//! ELBv2 changes: target groups, load balancers, listeners, rules, targets and tags.
use std::collections::BTreeMap;

use aws_lb_operator_core::discovery::Tags;
use aws_lb_operator_core::model::{
    ActionSpec, ConditionSpec, HealthCheckSpec, Protocol, RewriteSpec, TargetGroupRef, TargetSpec,
    TransformSpec,
};
use aws_lb_operator_core::planner::{ListenerSettings, NewLoadBalancer, Op};
use aws_sdk_elasticloadbalancingv2::types as elbt;

use super::{
    gone_ok, idempotent, retry_while, sdk_err, to_i32, Ctx, ExecuteError, ExecuteOptions, SdkError,
    Stop,
};
use crate::aws::calls::AttemptProbe;
use crate::aws::{AwsClients, AwsError};

/// Performs one ELBv2 change; `Ok(Some(arn))` for creates.
pub(super) async fn execute(
    clients: &AwsClients,
    op: &Op,
    ctx: &Ctx<'_>,
    opts: &ExecuteOptions,
) -> Result<Option<String>, Stop> {
    let elb = &clients.elbv2;
    match op {
        // ---- ELBv2 target groups ----
        Op::CreateTargetGroup {
            target_group: tg,
            tags,
            ..
        } => {
            let h = &tg.health_check;
            let out = elb
                .create_target_group()
                .name(&tg.name)
                .port(i32::from(tg.port))
                .protocol(elbt::ProtocolEnum::from(tg.protocol.as_str()))
                .set_protocol_version(tg.protocol_version.clone())
                .target_type(elbt::TargetTypeEnum::from(tg.target_type.as_str()))
                .ip_address_type(elbt::TargetGroupIpAddressTypeEnum::from(
                    tg.ip_address_type.as_str(),
                ))
                .vpc_id(&tg.vpc_id)
                .health_check_protocol(elbt::ProtocolEnum::from(h.protocol.as_str()))
                .health_check_port(&h.port)
                .set_health_check_path(http_path(h))
                .health_check_interval_seconds(to_i32("health check interval", h.interval_seconds)?)
                .health_check_timeout_seconds(to_i32("health check timeout", h.timeout_seconds)?)
                .healthy_threshold_count(to_i32("healthy threshold", h.healthy_threshold_count)?)
                .unhealthy_threshold_count(to_i32(
                    "unhealthy threshold",
                    h.unhealthy_threshold_count,
                )?)
                .set_matcher(http_matcher(h))
                .set_tags(elb_tags(tags))
                .send()
                .await
                .map_err(elb_err("CreateTargetGroup"));
            match out {
                Ok(out) => Ok(out
                    .target_groups()
                    .first()
                    .and_then(|t| t.target_group_arn())
                    .map(str::to_owned)),
                // AWS answers an identical create with the existing group; LocalStack (and AWS
                // for any difference) with this code.
                Err(e) if e.has_code("DuplicateTargetGroupName") => {
                    match idempotent::owned_target_group(elb, tg, tags).await? {
                        Some(arn) => Ok(Some(arn)),
                        None => Err(e.into()),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        Op::ModifyTargetGroup {
            target_group,
            health_check: h,
        } => {
            elb.modify_target_group()
                .target_group_arn(ctx.r("target group", target_group)?)
                .health_check_protocol(elbt::ProtocolEnum::from(h.protocol.as_str()))
                .health_check_port(&h.port)
                .set_health_check_path(http_path(h))
                .health_check_interval_seconds(to_i32("health check interval", h.interval_seconds)?)
                .health_check_timeout_seconds(to_i32("health check timeout", h.timeout_seconds)?)
                .healthy_threshold_count(to_i32("healthy threshold", h.healthy_threshold_count)?)
                .unhealthy_threshold_count(to_i32(
                    "unhealthy threshold",
                    h.unhealthy_threshold_count,
                )?)
                .set_matcher(http_matcher(h))
                .send()
                .await
                .map_err(elb_err("ModifyTargetGroup"))?;
            Ok(None)
        }
        Op::ModifyTargetGroupAttributes {
            target_group,
            attributes: attrs,
        } => {
            elb.modify_target_group_attributes()
                .target_group_arn(ctx.r("target group", target_group)?)
                .set_attributes(attributes(attrs, |k, v| {
                    elbt::TargetGroupAttribute::builder()
                        .key(k)
                        .value(v)
                        .build()
                }))
                .send()
                .await
                .map_err(elb_err("ModifyTargetGroupAttributes"))?;
            Ok(None)
        }
        Op::RegisterTargets {
            target_group,
            targets: ts,
        } => {
            elb.register_targets()
                .target_group_arn(ctx.r("target group", target_group)?)
                .set_targets(targets(ts))
                .send()
                .await
                .map_err(elb_err("RegisterTargets"))?;
            Ok(None)
        }
        Op::DeregisterTargets {
            target_group,
            targets: ts,
        } => {
            elb.deregister_targets()
                .target_group_arn(target_group)
                .set_targets(targets(ts))
                .send()
                .await
                .map_err(elb_err("DeregisterTargets"))?;
            Ok(None)
        }
        Op::DeleteTargetGroup { arn } => {
            let r = retry_while("ResourceInUse", opts.tg_delete_timeout, opts, || async {
                elb.delete_target_group()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(elb_err("DeleteTargetGroup"))
            })
            .await;
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 load balancers ----
        Op::CreateLoadBalancer {
            load_balancer: lb,
            tags,
            ..
        } => {
            let sgs = ctx.refs("load balancer security groups", &lb.security_groups)?;
            let probe = AttemptProbe::default();
            let out = elb
                .create_load_balancer()
                .name(&lb.name)
                .r#type(elbt::LoadBalancerTypeEnum::from(lb.lb_type.as_str()))
                .scheme(elbt::LoadBalancerSchemeEnum::from(lb.scheme.as_str()))
                .ip_address_type(elbt::IpAddressType::from(lb.ip_address_type.as_str()))
                .set_subnets((!subnet_mappings_needed(lb)).then(|| lb.subnets.clone()))
                .set_subnet_mappings(subnet_mappings(lb))
                .set_security_groups((!sgs.is_empty()).then_some(sgs))
                .set_tags(elb_tags(tags))
                .customize()
                .config_override(
                    aws_sdk_elasticloadbalancingv2::config::Builder::default()
                        .interceptor(probe.clone()),
                )
                .send()
                .await
                .map_err(elb_err("CreateLoadBalancer"));
            match out {
                Ok(out) => {
                    let arn = out
                        .load_balancers()
                        .first()
                        .and_then(|l| l.load_balancer_arn())
                        .map(str::to_owned);
                    if let (Some(arn), true) = (&arn, probe.attempts() > 1) {
                        idempotent::drop_load_balancer_copies(elb, &lb.name, arn, tags).await?;
                    }
                    Ok(arn)
                }
                Err(e) if e.has_code("DuplicateLoadBalancerName") => {
                    match idempotent::owned_load_balancer(elb, lb, tags).await? {
                        Some(arn) => Ok(Some(arn)),
                        None => Err(e.into()),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        Op::SetSecurityGroups {
            load_balancer,
            security_groups,
        } => {
            elb.set_security_groups()
                .load_balancer_arn(ctx.r("load balancer", load_balancer)?)
                .set_security_groups(Some(ctx.refs("security group", security_groups)?))
                .send()
                .await
                .map_err(elb_err("SetSecurityGroups"))?;
            Ok(None)
        }
        Op::SetSubnets {
            load_balancer,
            subnets,
        } => {
            elb.set_subnets()
                .load_balancer_arn(ctx.r("load balancer", load_balancer)?)
                .set_subnets(Some(subnets.clone()))
                .send()
                .await
                .map_err(elb_err("SetSubnets"))?;
            Ok(None)
        }
        Op::SetIpAddressType {
            load_balancer,
            ip_address_type,
        } => {
            elb.set_ip_address_type()
                .load_balancer_arn(ctx.r("load balancer", load_balancer)?)
                .ip_address_type(elbt::IpAddressType::from(ip_address_type.as_str()))
                .send()
                .await
                .map_err(elb_err("SetIpAddressType"))?;
            Ok(None)
        }
        Op::ModifyLoadBalancerAttributes {
            load_balancer,
            attributes: attrs,
        } => {
            elb.modify_load_balancer_attributes()
                .load_balancer_arn(ctx.r("load balancer", load_balancer)?)
                .set_attributes(attributes(attrs, |k, v| {
                    elbt::LoadBalancerAttribute::builder()
                        .key(k)
                        .value(v)
                        .build()
                }))
                .send()
                .await
                .map_err(elb_err("ModifyLoadBalancerAttributes"))?;
            Ok(None)
        }
        Op::DeleteLoadBalancer { arn } => {
            let r = elb
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(elb_err("DeleteLoadBalancer"));
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 listeners ----
        Op::CreateListener {
            load_balancer,
            listener: l,
            tags,
            ..
        } => {
            let lb_arn = ctx.r("load balancer", load_balancer)?;
            let probe = AttemptProbe::default();
            let out = elb
                .create_listener()
                .load_balancer_arn(&lb_arn)
                .port(i32::from(l.port))
                .protocol(elbt::ProtocolEnum::from(l.protocol.as_str()))
                .set_ssl_policy(l.ssl_policy.clone())
                .set_certificates(default_certificate(l))
                .set_alpn_policy(l.alpn_policy.clone().map(|a| vec![a]))
                .set_mutual_authentication(sdk_mutual_authentication(l))
                .set_default_actions(Some(sdk_actions(ctx, &l.default_actions)?))
                .set_tags(elb_tags(tags))
                .customize()
                .config_override(
                    aws_sdk_elasticloadbalancingv2::config::Builder::default()
                        .interceptor(probe.clone()),
                )
                .send()
                .await
                .map_err(elb_err("CreateListener"))?;
            let arn = out
                .listeners()
                .first()
                .and_then(|l| l.listener_arn())
                .map(str::to_owned);
            if let (Some(arn), true) = (&arn, probe.attempts() > 1) {
                idempotent::drop_listener_copies(elb, &lb_arn, l.port, arn, tags).await?;
            }
            Ok(arn)
        }
        Op::ModifyListener { arn, listener: l } => {
            elb.modify_listener()
                .listener_arn(arn)
                .port(i32::from(l.port))
                .protocol(elbt::ProtocolEnum::from(l.protocol.as_str()))
                .set_ssl_policy(l.ssl_policy.clone())
                .set_certificates(default_certificate(l))
                .set_alpn_policy(l.alpn_policy.clone().map(|a| vec![a]))
                .set_mutual_authentication(sdk_mutual_authentication(l))
                .set_default_actions(Some(sdk_actions(ctx, &l.default_actions)?))
                .send()
                .await
                .map_err(elb_err("ModifyListener"))?;
            Ok(None)
        }
        Op::ModifyListenerAttributes {
            listener,
            attributes: attrs,
        } => {
            elb.modify_listener_attributes()
                .listener_arn(ctx.r("listener", listener)?)
                .set_attributes(attributes(attrs, |k, v| {
                    elbt::ListenerAttribute::builder().key(k).value(v).build()
                }))
                .send()
                .await
                .map_err(elb_err("ModifyListenerAttributes"))?;
            Ok(None)
        }
        Op::AddListenerCertificates {
            listener,
            certificates,
        } => {
            elb.add_listener_certificates()
                .listener_arn(ctx.r("listener", listener)?)
                .set_certificates(listener_certificates(certificates))
                .send()
                .await
                .map_err(elb_err("AddListenerCertificates"))?;
            Ok(None)
        }
        Op::RemoveListenerCertificates {
            listener,
            certificates,
        } => {
            elb.remove_listener_certificates()
                .listener_arn(listener)
                .set_certificates(listener_certificates(certificates))
                .send()
                .await
                .map_err(elb_err("RemoveListenerCertificates"))?;
            Ok(None)
        }
        Op::DeleteListener { arn } => {
            let r = elb
                .delete_listener()
                .listener_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(elb_err("DeleteListener"));
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 rules ----
        Op::CreateRule {
            listener,
            priority,
            conditions,
            actions,
            transforms,
            tags,
        } => {
            let listener = ctx.r("listener", listener)?;
            let created = elb
                .create_rule()
                .listener_arn(&listener)
                .priority(to_i32("priority", *priority)?)
                .set_conditions(Some(sdk_conditions(conditions)))
                .set_actions(Some(sdk_actions(ctx, actions)?))
                .set_transforms(sdk_transforms(transforms))
                .set_tags(elb_tags(tags))
                .send()
                .await
                .map_err(elb_err("CreateRule"));
            match created {
                Ok(_) => Ok(None),
                Err(e) if e.has_code("PriorityInUse") => {
                    let actions = resolved_actions(ctx, actions)?;
                    if idempotent::identical_rule(elb, &listener, *priority, conditions, &actions)
                        .await?
                    {
                        Ok(None)
                    } else {
                        Err(e.into())
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        Op::ModifyRule {
            arn,
            conditions,
            actions,
            transforms,
            reset_transforms,
        } => {
            elb.modify_rule()
                .rule_arn(arn)
                .set_conditions(Some(sdk_conditions(conditions)))
                .set_actions(Some(sdk_actions(ctx, actions)?))
                .set_transforms(sdk_transforms(transforms))
                .set_reset_transforms(reset_transforms.then_some(true))
                .send()
                .await
                .map_err(elb_err("ModifyRule"))?;
            Ok(None)
        }
        Op::SetRulePriorities { priorities } => {
            let mut pairs = Vec::with_capacity(priorities.len());
            for (arn, p) in priorities {
                pairs.push(
                    elbt::RulePriorityPair::builder()
                        .rule_arn(arn)
                        .priority(to_i32("priority", *p)?)
                        .build(),
                );
            }
            elb.set_rule_priorities()
                .set_rule_priorities(Some(pairs))
                .send()
                .await
                .map_err(elb_err("SetRulePriorities"))?;
            Ok(None)
        }
        Op::DeleteRule { arn } => {
            let r = elb
                .delete_rule()
                .rule_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(elb_err("DeleteRule"));
            gone_ok(r)?;
            Ok(None)
        }

        // ---- ELBv2 tags ----
        Op::AddTags { resource, tags } => {
            elb.add_tags()
                .resource_arns(resource)
                .set_tags(elb_tags(tags))
                .send()
                .await
                .map_err(elb_err("AddTags"))?;
            Ok(None)
        }
        Op::RemoveTags { resource, keys } => {
            elb.remove_tags()
                .resource_arns(resource)
                .set_tag_keys(Some(keys.clone()))
                .send()
                .await
                .map_err(elb_err("RemoveTags"))?;
            Ok(None)
        }
        other => Err(Stop::Fail(ExecuteError::WrongService {
            service: "elbv2",
            operation: other.operation(),
        })),
    }
}

/// Rule transforms in the SDK's form; `None` when there are none (the parameter is left out).
fn sdk_transforms(transforms: &[TransformSpec]) -> Option<Vec<elbt::RuleTransform>> {
    let rewrites = |r: &[RewriteSpec]| -> Vec<elbt::RewriteConfig> {
        r.iter()
            .map(|w| {
                elbt::RewriteConfig::builder()
                    .regex(&w.regex)
                    .replace(&w.replace)
                    .build()
            })
            .collect()
    };
    (!transforms.is_empty()).then(|| {
        transforms
            .iter()
            .map(|t| match t {
                TransformSpec::HostHeaderRewrite { rewrites: r } => elbt::RuleTransform::builder()
                    .r#type(elbt::TransformTypeEnum::HostHeaderRewrite)
                    .host_header_rewrite_config(
                        elbt::HostHeaderRewriteConfig::builder()
                            .set_rewrites(Some(rewrites(r)))
                            .build(),
                    )
                    .build(),
                TransformSpec::UrlRewrite { rewrites: r } => elbt::RuleTransform::builder()
                    .r#type(elbt::TransformTypeEnum::UrlRewrite)
                    .url_rewrite_config(
                        elbt::UrlRewriteConfig::builder()
                            .set_rewrites(Some(rewrites(r)))
                            .build(),
                    )
                    .build(),
            })
            .collect()
    })
}

pub(super) fn elb_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> AwsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    sdk_err("elbv2", operation)
}

pub(super) fn elb_tags(tags: &Tags) -> Option<Vec<elbt::Tag>> {
    Some(
        tags.iter()
            .map(|(k, v)| elbt::Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

pub(super) fn attributes<T>(
    attrs: &BTreeMap<String, String>,
    build: impl Fn(&str, &str) -> T,
) -> Option<Vec<T>> {
    Some(attrs.iter().map(|(k, v)| build(k, v)).collect())
}

pub(super) fn targets(ts: &[TargetSpec]) -> Option<Vec<elbt::TargetDescription>> {
    Some(
        ts.iter()
            .map(|t| {
                elbt::TargetDescription::builder()
                    .id(&t.id)
                    .port(i32::from(t.port))
                    .build()
            })
            .collect(),
    )
}

/// HTTP(S) health checks have a path; TCP checks must not send one.
pub(super) fn http_path(h: &HealthCheckSpec) -> Option<String> {
    matches!(h.protocol, Protocol::Http | Protocol::Https).then(|| h.path.clone())
}

/// Success codes, when the check has any (TCP checks have none).
pub(super) fn http_matcher(h: &HealthCheckSpec) -> Option<elbt::Matcher> {
    (h.matcher.http_code.is_some() || h.matcher.grpc_code.is_some()).then(|| matcher(h))
}

pub(super) fn matcher(h: &HealthCheckSpec) -> elbt::Matcher {
    elbt::Matcher::builder()
        .set_http_code(h.matcher.http_code.clone())
        .set_grpc_code(h.matcher.grpc_code.clone())
        .build()
}

/// ELBv2 rule conditions, in their `*Config` forms.
pub fn sdk_conditions(conditions: &[ConditionSpec]) -> Vec<elbt::RuleCondition> {
    conditions
        .iter()
        .map(|c| {
            let b = elbt::RuleCondition::builder().field(c.field());
            match c {
                ConditionSpec::HostHeader { values } => b.host_header_config(
                    elbt::HostHeaderConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                ),
                ConditionSpec::PathPattern { values } => b.path_pattern_config(
                    elbt::PathPatternConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                ),
                ConditionSpec::HttpHeader {
                    http_header_name,
                    values,
                } => b.http_header_config(
                    elbt::HttpHeaderConditionConfig::builder()
                        .http_header_name(http_header_name)
                        .set_values(Some(values.clone()))
                        .build(),
                ),
                ConditionSpec::HttpRequestMethod { values } => b.http_request_method_config(
                    elbt::HttpRequestMethodConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                ),
                ConditionSpec::QueryString { values } => b.query_string_config(
                    elbt::QueryStringConditionConfig::builder()
                        .set_values(Some(
                            values
                                .iter()
                                .map(|kv| {
                                    elbt::QueryStringKeyValuePair::builder()
                                        .set_key(kv.key.clone())
                                        .value(&kv.value)
                                        .build()
                                })
                                .collect(),
                        ))
                        .build(),
                ),
                ConditionSpec::SourceIp { values } => b.source_ip_config(
                    elbt::SourceIpConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                ),
            }
            .build()
        })
        .collect()
}

/// ELBv2 actions with `Order` 1, 2, ...; forward target groups resolved to ARNs.
pub(super) fn sdk_actions(
    ctx: &Ctx<'_>,
    actions: &[ActionSpec],
) -> Result<Vec<elbt::Action>, Stop> {
    let mut out = Vec::with_capacity(actions.len());
    for (i, a) in actions.iter().enumerate() {
        let order = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let b = elbt::Action::builder().order(order);
        let action = match a {
            ActionSpec::Forward {
                target_groups,
                stickiness,
            } => {
                let mut tuples = Vec::with_capacity(target_groups.len());
                for t in target_groups {
                    tuples.push(
                        elbt::TargetGroupTuple::builder()
                            .target_group_arn(ctx.target_group(t)?)
                            .weight(to_i32("weight", t.weight)?)
                            .build(),
                    );
                }
                let stickiness = match stickiness {
                    Some(s) => Some(
                        elbt::TargetGroupStickinessConfig::builder()
                            .enabled(s.enabled)
                            .set_duration_seconds(
                                s.duration_seconds
                                    .map(|d| to_i32("stickiness duration", d))
                                    .transpose()?,
                            )
                            .build(),
                    ),
                    None => None,
                };
                b.r#type(elbt::ActionTypeEnum::Forward).forward_config(
                    elbt::ForwardActionConfig::builder()
                        .set_target_groups(Some(tuples))
                        .set_target_group_stickiness_config(stickiness)
                        .build(),
                )
            }
            ActionSpec::FixedResponse(f) => b
                .r#type(elbt::ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    elbt::FixedResponseActionConfig::builder()
                        .status_code(&f.status_code)
                        .set_content_type(f.content_type.clone())
                        .set_message_body(f.message_body.clone())
                        .build(),
                ),
            ActionSpec::Redirect(r) => b.r#type(elbt::ActionTypeEnum::Redirect).redirect_config(
                elbt::RedirectActionConfig::builder()
                    .protocol(&r.protocol)
                    .port(&r.port)
                    .host(&r.host)
                    .path(&r.path)
                    .query(&r.query)
                    .status_code(elbt::RedirectActionStatusCodeEnum::from(
                        r.status_code.as_str(),
                    ))
                    .build(),
            ),
            ActionSpec::AuthenticateCognito(c) => b
                .r#type(elbt::ActionTypeEnum::AuthenticateCognito)
                .authenticate_cognito_config(
                    elbt::AuthenticateCognitoActionConfig::builder()
                        .user_pool_arn(&c.user_pool_arn)
                        .user_pool_client_id(&c.user_pool_client_id)
                        .user_pool_domain(&c.user_pool_domain)
                        .set_authentication_request_extra_params(extra_params(&c.common))
                        .on_unauthenticated_request(
                            elbt::AuthenticateCognitoActionConditionalBehaviorEnum::from(
                                c.common.on_unauthenticated_request.as_str(),
                            ),
                        )
                        .scope(&c.common.scope)
                        .session_cookie_name(&c.common.session_cookie_name)
                        .session_timeout(c.common.session_timeout)
                        .build(),
                ),
            ActionSpec::AuthenticateOidc(o) => {
                // The secret is only ever in this request (never logged: the SDK input is not
                // traced, and `ClientSecret` redacts itself everywhere else). Without one (a
                // model read back from AWS) AWS keeps the secret it has.
                let cfg = elbt::AuthenticateOidcActionConfig::builder()
                    .issuer(&o.issuer)
                    .authorization_endpoint(&o.authorization_endpoint)
                    .token_endpoint(&o.token_endpoint)
                    .user_info_endpoint(&o.user_info_endpoint)
                    .client_id(&o.client_id)
                    .set_client_secret(o.client_secret.as_ref().map(|s| s.expose().to_owned()))
                    .set_use_existing_client_secret(o.client_secret.is_none().then_some(true))
                    .set_authentication_request_extra_params(extra_params(&o.common))
                    .on_unauthenticated_request(
                        elbt::AuthenticateOidcActionConditionalBehaviorEnum::from(
                            o.common.on_unauthenticated_request.as_str(),
                        ),
                    )
                    .scope(&o.common.scope)
                    .session_cookie_name(&o.common.session_cookie_name)
                    .session_timeout(o.common.session_timeout)
                    .build();
                b.r#type(elbt::ActionTypeEnum::AuthenticateOidc)
                    .authenticate_oidc_config(cfg)
            }
        };
        out.push(action.build());
    }
    Ok(out)
}

fn extra_params(
    common: &aws_lb_operator_core::model::AuthenticateCommon,
) -> Option<std::collections::HashMap<String, String>> {
    (!common.authentication_request_extra_params.is_empty()).then(|| {
        common
            .authentication_request_extra_params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

/// `actions` with forward target groups resolved to ARNs, as an observed rule holds them.
pub(super) fn resolved_actions(
    ctx: &Ctx<'_>,
    actions: &[ActionSpec],
) -> Result<Vec<ActionSpec>, Stop> {
    let mut out = Vec::with_capacity(actions.len());
    for a in actions {
        out.push(match a {
            ActionSpec::Forward {
                target_groups,
                stickiness,
            } => {
                let mut resolved = Vec::with_capacity(target_groups.len());
                for t in target_groups {
                    resolved.push(TargetGroupRef {
                        id: None,
                        arn: Some(ctx.target_group(t)?),
                        name: None,
                        weight: t.weight,
                    });
                }
                ActionSpec::Forward {
                    target_groups: resolved,
                    stickiness: stickiness.clone(),
                }
            }
            other => other.clone(),
        });
    }
    Ok(out)
}

/// A listener's mutual TLS as ELBv2 takes it (`None`: not sent, the listener keeps its own).
pub(super) fn sdk_mutual_authentication(
    l: &ListenerSettings,
) -> Option<elbt::MutualAuthenticationAttributes> {
    l.mutual_authentication.as_ref().map(|m| {
        elbt::MutualAuthenticationAttributes::builder()
            .mode(&m.mode)
            .set_trust_store_arn(m.trust_store.clone())
            .set_ignore_client_certificate_expiry(m.ignore_client_certificate_expiry)
            .set_advertise_trust_store_ca_names(
                m.advertise_trust_store_ca_names
                    .as_deref()
                    .map(elbt::AdvertiseTrustStoreCaNamesEnum::from),
            )
            .build()
    })
}

pub(super) fn listener_certificates(certs: &[String]) -> Option<Vec<elbt::Certificate>> {
    Some(
        certs
            .iter()
            .map(|c| elbt::Certificate::builder().certificate_arn(c).build())
            .collect(),
    )
}

pub(super) fn default_certificate(l: &ListenerSettings) -> Option<Vec<elbt::Certificate>> {
    l.default_certificate
        .as_ref()
        .and_then(|c| listener_certificates(std::slice::from_ref(c)))
}

pub(super) fn subnet_mappings_needed(lb: &NewLoadBalancer) -> bool {
    !lb.eip_allocations.is_empty() || !lb.private_ipv4_addresses.is_empty()
}

/// Subnet mappings carrying Elastic IPs or private addresses (NLBs), one per subnet in order.
pub(super) fn subnet_mappings(lb: &NewLoadBalancer) -> Option<Vec<elbt::SubnetMapping>> {
    if !subnet_mappings_needed(lb) {
        return None;
    }
    Some(
        lb.subnets
            .iter()
            .enumerate()
            .map(|(i, subnet)| {
                elbt::SubnetMapping::builder()
                    .subnet_id(subnet)
                    .set_allocation_id(lb.eip_allocations.get(i).cloned())
                    .set_private_ipv4_address(lb.private_ipv4_addresses.get(i).cloned())
                    .build()
            })
            .collect(),
    )
}
