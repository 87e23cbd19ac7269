"""ELBv2 for LocalStack's free edition, served by its bundled moto backend.

LocalStack's community edition has no ELBv2 provider; moto (bundled as ``moto-ext``) implements
the API well enough for our tests: ALBs and NLBs, listeners, rules, target groups with ip and
instance targets, tags, target health. This plugin registers a provider whose dispatch table
sends every ELBv2 operation to moto. ``DeleteLoadBalancer`` also drops the load balancer's WAFv2
association and Shield protection (moto keeps them; AWS does not).
"""

from localstack.aws.spec import load_service
from localstack.services.moto import _proxy_moto
from localstack.services.plugins import Service, aws_provider


class Elbv2MotoProvider:
    """Marker provider: all behaviour comes from moto."""

    service = "elbv2"


def _delete_load_balancer(context, request):
    response = _proxy_moto(context, request)
    arn = request.get("LoadBalancerArn", "")
    # Imported here: the add-on modules import this package's siblings' moto backends.
    from . import shield, wafv2

    wafv2.forget_resource(context.account_id, context.region, arn)
    shield.forget_resource(context.account_id, context.region, arn)
    return response


def _dispatch_all_to_moto(_provider):
    table = {op: _proxy_moto for op in load_service("elbv2").operation_names}
    table["DeleteLoadBalancer"] = _delete_load_balancer
    return table


@aws_provider(api="elbv2")
def elbv2():
    return Service.for_provider(Elbv2MotoProvider(), dispatch_table_factory=_dispatch_all_to_moto)
