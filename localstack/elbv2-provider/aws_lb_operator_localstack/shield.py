"""Shield Advanced for LocalStack's free edition, served by its bundled moto backend.

LocalStack's community edition has no Shield provider; moto has a backend (subscription,
protections). Every operation goes to moto, except:

- ``GetSubscriptionState``, which moto does not implement: ``ACTIVE`` once
  ``CreateSubscription`` was called in the account, ``INACTIVE`` before. Shield is global, as
  in AWS: moto keeps one backend per account and partition, whatever the request's region.
- ``CreateProtection`` of a load balancer: AWS answers ``ResourceNotFoundException`` when it
  does not exist; moto only checks the ARN's form. Here it must be a load balancer of moto's
  ELBv2 backend in the same account and region.
- Protections outlive their load balancer in moto; AWS drops them with it (the ELBv2 provider
  calls :func:`forget_resource` after ``DeleteLoadBalancer``).
"""

from localstack.aws.api import CommonServiceException
from localstack.aws.spec import load_service
from localstack.services.moto import _proxy_moto
from localstack.services.plugins import Service, aws_provider
from moto.elbv2.models import elbv2_backends
from moto.shield.models import shield_backends
from moto.utilities.utils import get_partition


class ShieldMotoProvider:
    """Marker provider: behaviour from moto, plus GetSubscriptionState."""

    service = "shield"


def _subscription_state(context, _request):
    backend = shield_backends[context.account_id][get_partition(context.region)]
    return {"SubscriptionState": "ACTIVE" if backend.subscription is not None else "INACTIVE"}


def _create_protection(context, request):
    resource_arn = request.get("ResourceArn", "")
    parts = resource_arn.split(":")
    if len(parts) >= 6 and parts[2] == "elasticloadbalancing":
        region, account = parts[3], parts[4]
        exists = (
            region == context.region
            and account == context.account_id
            and resource_arn in elbv2_backends[account][region].load_balancers
        )
        if not exists:
            raise CommonServiceException(
                "ResourceNotFoundException",
                f"The referenced resource does not exist: {resource_arn}",
                status_code=400,
            )
    return _proxy_moto(context, request)


def forget_resource(account, region, resource_arn):
    """Drops the protection of a deleted resource, as AWS does."""
    backend = shield_backends[account][get_partition(region)]
    for pid, protection in list(backend.protections.items()):
        if protection.resource_arn == resource_arn:
            del backend.protections[pid]


def _dispatch(_provider):
    table = {op: _proxy_moto for op in load_service("shield").operation_names}
    table["GetSubscriptionState"] = _subscription_state
    table["CreateProtection"] = _create_protection
    return table


@aws_provider(api="shield")
def shield():
    return Service.for_provider(ShieldMotoProvider(), dispatch_table_factory=_dispatch)
