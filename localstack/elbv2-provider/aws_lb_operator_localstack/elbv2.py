"""ELBv2 for LocalStack's free edition, served by its bundled moto backend.

LocalStack's community edition has no ELBv2 provider; moto (bundled as ``moto-ext``) implements
the API well enough for our tests: ALBs and NLBs, listeners, rules, target groups with ip and
instance targets, tags, target health. This plugin registers a provider whose dispatch table
sends every ELBv2 operation to moto.

moto drops a listener's ``MutualAuthentication`` (mutual TLS): this plugin keeps what
CreateListener and ModifyListener set, per listener ARN, and returns it from CreateListener,
ModifyListener and DescribeListeners, with the defaults AWS fills in for ``verify``
(``IgnoreClientCertificateExpiry`` false, ``AdvertiseTrustStoreCaNames`` off). Trust stores are
not checked (moto has none).
"""

from localstack.aws.spec import load_service
from localstack.services.moto import _proxy_moto, call_moto
from localstack.services.plugins import Service, aws_provider


class Elbv2MotoProvider:
    """Marker provider: all behaviour comes from moto."""

    service = "elbv2"


# Listener ARN -> MutualAuthentication as AWS reports it.
_MUTUAL_AUTHENTICATION = {}


def _normalised(mtls):
    mode = mtls.get("Mode") or "off"
    if mode != "verify":
        return {"Mode": mode}
    out = {
        "Mode": mode,
        "IgnoreClientCertificateExpiry": bool(mtls.get("IgnoreClientCertificateExpiry", False)),
        "AdvertiseTrustStoreCaNames": mtls.get("AdvertiseTrustStoreCaNames") or "off",
        "TrustStoreAssociationStatus": "active",
    }
    if mtls.get("TrustStoreArn"):
        out["TrustStoreArn"] = mtls["TrustStoreArn"]
    return out


def _with_mutual_authentication(response):
    for listener in response.get("Listeners", []) or []:
        stored = _MUTUAL_AUTHENTICATION.get(listener.get("ListenerArn"))
        if stored is not None:
            listener["MutualAuthentication"] = dict(stored)
    return response


def _create_or_modify_listener(context, request):
    response = call_moto(context)
    mtls = request.get("MutualAuthentication")
    if mtls:
        for listener in response.get("Listeners", []) or []:
            _MUTUAL_AUTHENTICATION[listener.get("ListenerArn")] = _normalised(mtls)
    return _with_mutual_authentication(response)


def _describe_listeners(context, _request):
    return _with_mutual_authentication(call_moto(context))


def _dispatch_all_to_moto(_provider):
    table = {op: _proxy_moto for op in load_service("elbv2").operation_names}
    table["CreateListener"] = _create_or_modify_listener
    table["ModifyListener"] = _create_or_modify_listener
    table["DescribeListeners"] = _describe_listeners
    return table


@aws_provider(api="elbv2")
def elbv2():
    return Service.for_provider(Elbv2MotoProvider(), dispatch_table_factory=_dispatch_all_to_moto)
