"""ELBv2 for LocalStack's free edition, served by its bundled moto backend.

LocalStack's community edition has no ELBv2 provider; moto (bundled as ``moto-ext``) implements
the API well enough for our tests: ALBs and NLBs, listeners, rules, target groups with ip and
instance targets, tags, target health. This plugin registers a provider whose dispatch table
sends every ELBv2 operation to moto.
"""

from localstack.aws.spec import load_service
from localstack.services.moto import _proxy_moto
from localstack.services.plugins import Service, aws_provider


class Elbv2MotoProvider:
    """Marker provider: all behaviour comes from moto."""

    service = "elbv2"


def _dispatch_all_to_moto(_provider):
    return {op: _proxy_moto for op in load_service("elbv2").operation_names}


@aws_provider(api="elbv2")
def elbv2():
    return Service.for_provider(Elbv2MotoProvider(), dispatch_table_factory=_dispatch_all_to_moto)
