"""WAFv2 for LocalStack's free edition, served by its bundled moto backend.

LocalStack's community edition has no WAFv2 provider; moto has a backend (web ACLs, rule
groups, IP sets, associations). Every operation goes to moto, except the three association
calls, which moto gets wrong for load balancers in ways real AWS does not:

- ``AssociateWebACL`` accepts any resource ARN. AWS answers ``WAFNonexistentItemException``
  for a load balancer that does not exist; here the ARN must be a load balancer of moto's
  ELBv2 backend (the one our ELBv2 provider serves) in the same account and region.
- ``AssociateWebACL`` on a resource that already has a web ACL leaves the old association in
  place (and may add a duplicate), so ``GetWebACLForResource`` can still answer the old ACL.
  AWS replaces the association; so does this provider.
- An association outlives its load balancer in moto; AWS drops it with the load balancer
  (the ELBv2 provider calls :func:`forget_resource` after ``DeleteLoadBalancer``).
"""

from localstack.aws.api import CommonServiceException
from localstack.aws.spec import load_service
from localstack.services.moto import _proxy_moto
from localstack.services.plugins import Service, aws_provider
from moto.elbv2.models import elbv2_backends
from moto.wafv2.models import wafv2_backends


class Wafv2MotoProvider:
    """Marker provider: behaviour from moto, associations checked and replaced here."""

    service = "wafv2"


def _nonexistent(message):
    return CommonServiceException("WAFNonexistentItemException", message, status_code=400)


def _load_balancer_exists(context, resource_arn):
    parts = resource_arn.split(":")
    if len(parts) < 6 or parts[2] != "elasticloadbalancing":
        # Other resource types (API Gateway stages, ...) are left to moto as they were.
        return True
    region, account = parts[3], parts[4]
    if region != context.region or account != context.account_id:
        return False
    return resource_arn in elbv2_backends[account][region].load_balancers


def _backend(context):
    return wafv2_backends[context.account_id][context.region]


def _associate(context, request):
    resource_arn = request.get("ResourceArn", "")
    web_acl_arn = request.get("WebACLArn", "")
    if not _load_balancer_exists(context, resource_arn):
        raise _nonexistent(
            f"AWS WAF couldn't perform the operation because your resource doesn't exist: {resource_arn}"
        )
    backend = _backend(context)
    if web_acl_arn not in backend.wacls:
        raise _nonexistent(
            "AWS WAF couldn't perform the operation because your resource doesn't exist."
        )
    for acl in backend.wacls.values():
        while resource_arn in acl.associated_resources:
            acl.associated_resources.remove(resource_arn)
    return _proxy_moto(context, request)


def _disassociate(context, request):
    resource_arn = request.get("ResourceArn", "")
    if not _load_balancer_exists(context, resource_arn):
        raise _nonexistent(
            f"AWS WAF couldn't perform the operation because your resource doesn't exist: {resource_arn}"
        )
    return _proxy_moto(context, request)


def _get_for_resource(context, request):
    resource_arn = request.get("ResourceArn", "")
    if not _load_balancer_exists(context, resource_arn):
        raise _nonexistent(
            f"AWS WAF couldn't perform the operation because your resource doesn't exist: {resource_arn}"
        )
    return _proxy_moto(context, request)


def forget_resource(account, region, resource_arn):
    """Drops every association of a deleted resource, as AWS does."""
    backend = wafv2_backends[account][region]
    for acl in backend.wacls.values():
        while resource_arn in acl.associated_resources:
            acl.associated_resources.remove(resource_arn)


def _dispatch(_provider):
    table = {op: _proxy_moto for op in load_service("wafv2").operation_names}
    table["AssociateWebACL"] = _associate
    table["DisassociateWebACL"] = _disassociate
    table["GetWebACLForResource"] = _get_for_resource
    return table


@aws_provider(api="wafv2")
def wafv2():
    return Service.for_provider(Wafv2MotoProvider(), dispatch_table_factory=_dispatch)
