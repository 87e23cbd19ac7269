"""ELBv2 for LocalStack's free edition, served by its bundled moto backend.

LocalStack's community edition has no ELBv2 provider; moto (bundled as ``moto-ext``) implements
the API well enough for our tests: ALBs and NLBs, listeners, rules, target groups with ip and
instance targets, tags, target health. This plugin registers a provider whose dispatch table
sends every ELBv2 operation to moto. ``DeleteLoadBalancer`` also drops the load balancer's WAFv2
association and Shield protection (moto keeps them; AWS does not).

Rule transforms (``Transforms`` of CreateRule and ModifyRule, ``ResetTransforms``): neither
moto nor the ELBv2 API description LocalStack 4.9.2 parses requests with knows them, so they
would be dropped. This plugin reads them from the raw request, keeps them by rule ARN, and
adds them to the rules of DescribeRules answers, as AWS returns them.

moto drops a listener's ``MutualAuthentication`` (mutual TLS): this plugin keeps what
CreateListener and ModifyListener set, per listener ARN, and returns it from CreateListener,
ModifyListener and DescribeListeners, with the defaults AWS fills in for ``verify``
(``IgnoreClientCertificateExpiry`` false, ``AdvertiseTrustStoreCaNames`` off). Trust stores are
not checked (moto has none).
"""

import threading
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from localstack.aws.protocol.serializer import create_serializer
from localstack.aws.spec import load_service
from localstack.services.moto import _proxy_moto, call_moto
from localstack.services.plugins import Service, aws_provider

# Rule ARN -> its transforms, as [(type, [(regex, replace), ...]), ...].
_transforms = {}
_lock = threading.Lock()

_CONFIG = {"host-header-rewrite": "HostHeaderRewriteConfig", "url-rewrite": "UrlRewriteConfig"}


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


def _form(context):
    """The raw query parameters of the request (body, or the form already parsed from it)."""
    body = context.request.get_data(as_text=True) or ""
    out = dict(context.request.args)
    if body:
        out.update(parse_qsl(body, keep_blank_values=True))
    else:
        out.update(context.request.form)
    return out


def _requested_transforms(form):
    """``Transforms.member.N`` of the request, or None when there are none."""
    out = []
    n = 1
    while f"Transforms.member.{n}.Type" in form:
        kind = form[f"Transforms.member.{n}.Type"]
        config = _CONFIG.get(kind, "")
        rewrites = []
        m = 1
        prefix = f"Transforms.member.{n}.{config}.Rewrites.member"
        while f"{prefix}.{m}.Regex" in form or f"{prefix}.{m}.Replace" in form:
            rewrites.append((form.get(f"{prefix}.{m}.Regex", ""), form.get(f"{prefix}.{m}.Replace", "")))
            m += 1
        out.append((kind, rewrites))
        n += 1
    return out or None


def _rule_arns(response):
    return [r.get("RuleArn") for r in (response or {}).get("Rules", []) if r.get("RuleArn")]


def _create_rule(context, request):
    transforms = _requested_transforms(_form(context))
    response = _proxy_moto(context, request)
    if transforms:
        with _lock:
            for arn in _rule_arns(response):
                _transforms[arn] = transforms
    return response


def _modify_rule(context, request):
    form = _form(context)
    transforms = _requested_transforms(form)
    response = _proxy_moto(context, request)
    arn = request.get("RuleArn", "")
    with _lock:
        if transforms:
            _transforms[arn] = transforms
        elif form.get("ResetTransforms", "").lower() == "true":
            _transforms.pop(arn, None)
    return response


def _transforms_xml(transforms):
    members = []
    for kind, rewrites in transforms:
        config = _CONFIG.get(kind)
        inner = "".join(
            f"<member><Regex>{escape(regex)}</Regex><Replace>{escape(replace)}</Replace></member>"
            for regex, replace in rewrites
        )
        body = f"<{config}><Rewrites>{inner}</Rewrites></{config}>" if config else ""
        members.append(f"<member><Type>{escape(kind)}</Type>{body}</member>")
    return f"<Transforms>{''.join(members)}</Transforms>"


def _describe_rules(context, request):
    result = call_moto(context)
    response = create_serializer(context.service).serialize_to_response(
        result, context.operation, context.request.headers, context.request_id
    )
    with _lock:
        known = {arn: _transforms[arn] for arn in _rule_arns(result) if arn in _transforms}
    if known:
        body = response.get_data(as_text=True)
        for arn, transforms in known.items():
            tag = f"<RuleArn>{escape(arn)}</RuleArn>"
            body = body.replace(tag, tag + _transforms_xml(transforms), 1)
        response.set_data(body)
    return response


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
    table["DeleteLoadBalancer"] = _delete_load_balancer
    table["CreateRule"] = _create_rule
    table["ModifyRule"] = _modify_rule
    table["DescribeRules"] = _describe_rules
    table["CreateListener"] = _create_or_modify_listener
    table["ModifyListener"] = _create_or_modify_listener
    table["DescribeListeners"] = _describe_listeners
    return table


@aws_provider(api="elbv2")
def elbv2():
    return Service.for_provider(Elbv2MotoProvider(), dispatch_table_factory=_dispatch_all_to_moto)
