"""Render and check the Helm chart (run by deploy/check.sh inside its virtualenv).

Uses Helm's own engine (helm-python-sdk binds Helm's Go SDK) and validates every rendered
object against the Kubernetes OpenAPI schemas (kubernetes-validate, offline).

Checks, each failing with a message that says what to do:
  1. `helm lint --strict` finds nothing.
  2. Every values file (the defaults plus ci/*-values.yaml) renders, and every object validates
     strictly against Kubernetes KUBE_VERSION (objects of CRDs Kubernetes does not ship, such as
     ServiceMonitor, are skipped and listed).
  3. Every `run` flag value (values.yaml's first section) set by a ci/*-values.yaml file appears
     in the Deployment's args, and each flag is set by some file.
  4. Rendering without clusterName fails with the chart's message.
  5. The chart's crds/ equals the repository's crds/.
  6. deploy/manifests/aws-lb-operator.yaml equals the default render (--update rewrites it).
  7. The IAM policy the chart renders (iamPolicy.render) is iam-policies/controller.json for the
     cluster, narrowed exactly as documented by the DNS filters, iamPolicy.targetGroupBindingArns
     and iamPolicy.assumeRoleArns.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "chart" / "aws-lb-operator"
MANIFEST = ROOT / "deploy" / "manifests" / "aws-lb-operator.yaml"
KUBE_VERSION = "1.33.0"
RELEASE = "aws-lb-operator"
NAMESPACE = "kube-system"
PLACEHOLDER_CLUSTER = "my-cluster"
REGENERATE = "deploy/check.sh --update"

# Install order of `helm install` (Helm's InstallOrder), for a readable plain manifest.
KIND_ORDER = [
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
    "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
    "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService",
]


class CheckError(Exception):
    """A check failed; the message says why and what to do."""


def render(values: dict) -> list[tuple[str, dict, str]]:
    """(template path, object, YAML text) of every rendered object, in install order."""
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path in sorted(files):
        if path.endswith("NOTES.txt"):
            continue
        for text in re.split(r"^---\s*$", files[path], flags=re.M):
            obj = yaml.safe_load(text)
            if obj:
                docs.append((path, obj, text.strip("\n")))
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    docs.sort(key=lambda d: (order.get(d[1]["kind"], len(order)), d[1]["kind"], d[1]["metadata"]["name"]))
    return docs


def load_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def validate(docs: list[tuple[str, dict, str]], label: str) -> list[str]:
    """Validates every object; returns the kinds skipped for want of a schema."""
    skipped = []
    for path, obj, _ in docs:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            skipped.append(f"{obj['apiVersion']} {obj['kind']}")
        except kubernetes_validate.ValidationError as e:
            raise CheckError(
                f"{label}: {obj['kind']} {obj['metadata'].get('name')} ({path}) is not valid "
                f"Kubernetes {KUBE_VERSION}: {e.message} at {list(e.path)}"
            ) from None
    return skipped


def container_args(docs: list[tuple[str, dict, str]]) -> list[str]:
    deployments = [o for _, o, _ in docs if o["kind"] == "Deployment"]
    if len(deployments) != 1:
        raise CheckError(f"expected one Deployment, rendered {len(deployments)}")
    return deployments[0]["spec"]["template"]["spec"]["containers"][0]["args"]


# Values named as the AWS Load Balancer Controller's chart names them, not by camelCase.
LBC_NAMES = {
    "defaultSSLPolicy": "default-ssl-policy",
    "disableRestrictedSecurityGroupRules": "disable-restricted-sg-rules",
}


def kebab(key: str) -> str:
    if key in LBC_NAMES:
        return LBC_NAMES[key]
    return re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), key)


def expected_args(key: str, value) -> list[str]:
    flag = "--" + kebab(key)
    if isinstance(value, bool):
        # SetTrue flags appear bare; --leader-elect takes a value.
        return [f"{flag}={str(value).lower()}"] if key == "leaderElect" else ([flag] if value else [])
    if isinstance(value, list):
        if key == "watchNamespace":
            return [f"{flag}={','.join(value)}"]
        return [f"{flag}={v}" for v in value]
    if isinstance(value, dict):
        # A map (defaultTags) is one comma-separated key=value list, keys sorted.
        return [f"{flag}=" + ",".join(f"{k}={v}" for k, v in sorted(value.items()))] if value else []
    return [f"{flag}={value}"]


def flag_keys() -> list[str]:
    """The values of `run` flags: the keys of values.yaml's first section."""
    text = (CHART / "values.yaml").read_text()
    section, sep, _ = text.partition("# ---- end of run flags ----")
    if not sep:
        raise CheckError("values.yaml lost its '# ---- end of run flags ----' marker")
    return list((yaml.safe_load(section) or {}).keys())


def check_flags_reach_args() -> None:
    """Every flag value a ci/ values file sets appears in the Deployment's args."""
    keys = flag_keys()
    checked = set()
    for path in sorted((CHART / "ci").glob("*-values.yaml")):
        values = load_values(path)
        args = container_args(render(values))
        for key in keys:
            if key not in values:
                continue
            for arg in expected_args(key, values[key]):
                if arg not in args:
                    raise CheckError(
                        f"{path.relative_to(ROOT)} sets {key}={values[key]!r} but the Deployment's args "
                        f"lack {arg!r} (templates/deployment.yaml must pass every value); args: {args}"
                    )
            checked.add(key)
    missing = [k for k in keys if k not in checked]
    if missing:
        raise CheckError(f"no ci/*-values.yaml sets the flag values {missing}")
    print(f"  all {len(keys)} flag values reach the container args (ci/*-values.yaml)")


@contextlib.contextmanager
def quiet_stderr():
    """Sends file descriptor 2 (also the native library's) to /dev/null for a moment."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_cluster_name_required() -> None:
    try:
        with quiet_stderr():  # Helm's Go side logs the `fail` message itself
            render({})
    except helm.HelmError as e:
        if "clusterName is required" not in str(e):
            raise CheckError(f"rendering without clusterName failed, but not with the chart's message: {e}") from None
        print("  rendering without clusterName fails: clusterName is required")
        return
    raise CheckError("rendering without clusterName succeeded; the chart must fail with a clear message")


def rendered_policy(values: dict) -> dict:
    import json
    maps = [o for _, o, _ in render(values) if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-iam-policy")]
    if len(maps) != 1:
        raise CheckError(f"iamPolicy.render=true rendered {len(maps)} IAM policy ConfigMaps, not 1")
    return json.loads(maps[0]["data"]["policy.json"])


def check_iam_policy() -> None:
    import json
    source = (ROOT / "iam-policies" / "controller.json").read_text()
    if (CHART / "files" / "iam-policy.json").read_text() != source:
        raise CheckError("deploy/chart/aws-lb-operator/files/iam-policy.json differs from iam-policies/controller.json; "
                         "cp iam-policies/controller.json deploy/chart/aws-lb-operator/files/iam-policy.json")
    want = json.loads(source.replace("CLUSTER_NAME", "c1"))
    if any(o["kind"] == "ConfigMap" for _, o, _ in render({"clusterName": "c1"})):
        raise CheckError("the IAM policy ConfigMap is rendered by default; it must need iamPolicy.render=true")
    got = rendered_policy({"clusterName": "c1", "iamPolicy": {"render": True}})
    if got != want:
        raise CheckError(f"without filters the chart's IAM policy is not controller.json for the cluster: {got}")
    zones = ["Z1", "Z2"]
    arns = ["arn:aws:elasticloadbalancing:*:*:targetgroup/shared-*/*"]
    roles = ["arn:aws:iam::111122223333:role/tgb-*"]
    got = rendered_policy({"clusterName": "c1", "dnsZoneIdFilter": zones, "dnsDomainFilter": ["Example.com."],
                           "iamPolicy": {"render": True, "targetGroupBindingArns": arns,
                                         "assumeRoleArns": roles}})
    zone_arns = [f"arn:aws:route53:::hostedzone/{z}" for z in zones]
    expected = []
    for st in want["Statement"]:
        if st["Sid"] == "Records":
            expected.append({"Sid": "ReadRecords", "Effect": "Allow", "Action": "route53:ListResourceRecordSets",
                             "Resource": zone_arns})
            st = dict(st, Action="route53:ChangeResourceRecordSets", Resource=zone_arns, Condition={
                "ForAllValues:StringLike": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["example.com", "*.example.com"]}})
        if st["Sid"] == "TargetGroupBindingTargets":
            st = {k: v for k, v in st.items() if k != "Condition"} | {"Resource": arns}
        if st["Sid"] == "TargetGroupBindingRoles":
            st = dict(st, Resource=roles)
        expected.append(st)
    if got["Statement"] != expected:
        raise CheckError(f"with DNS filters and targetGroupBindingArns the chart's IAM policy is not as documented: {got}")
    print("  IAM policy: rendered for the cluster; zone, domain and TargetGroupBinding filters narrow it as documented")


def plain_manifest() -> str:
    crds = (CHART / "crds" / "crds.yaml").read_text()
    crds = re.sub(r"\A(#.*\n)*", "", crds)  # the generator's header is repeated below
    docs = render({"clusterName": PLACEHOLDER_CLUSTER})
    out = [
        "# aws-lb-operator: a plain install for clusters without Helm (the chart's default values,",
        f"# release {RELEASE!r} in namespace {NAMESPACE!r}, Kubernetes {KUBE_VERSION}).",
        f"# Generated by {REGENERATE}; do not edit. Before applying, replace the placeholder",
        f"# cluster name {PLACEHOLDER_CLUSTER!r} (--cluster-name in the Deployment) and the image,",
        "# and give the ServiceAccount an IAM role (docs/install.md).",
    ]
    out.append(crds.rstrip("\n"))
    for path, _, text in docs:
        out.append(f"---\n# Source: {path}\n{text}")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help=f"rewrite {MANIFEST.relative_to(ROOT)}")
    opts = parser.parse_args()
    try:
        print(f"helm engine {helm.helm_sdk_version()} (helm-python-sdk), kubernetes-validate against {KUBE_VERSION}")
        report = helm.lint(str(CHART), {"clusterName": PLACEHOLDER_CLUSTER}, strict=True,
                           kube_version=f"v{KUBE_VERSION}")
        problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2] + report.get("errors", [])
        if problems:
            raise CheckError(f"helm lint --strict: {problems}")
        print("  helm lint --strict: clean")

        if (CHART / "crds" / "crds.yaml").read_bytes() != (ROOT / "crds" / "crds.yaml").read_bytes():
            raise CheckError("deploy/chart/aws-lb-operator/crds/crds.yaml differs from crds/crds.yaml; "
                             "cp crds/crds.yaml deploy/chart/aws-lb-operator/crds/")

        crd_docs = [("crds/crds.yaml", d, "") for d in yaml.safe_load_all((ROOT / "crds" / "crds.yaml").read_text()) if d]
        validate(crd_docs, "crds/crds.yaml")
        print(f"  crds/crds.yaml: {len(crd_docs)} CustomResourceDefinitions valid")

        cases = [("default values", {"clusterName": PLACEHOLDER_CLUSTER})]
        for path in sorted((CHART / "ci").glob("*-values.yaml")):
            cases.append((f"ci/{path.name}", load_values(path)))
        for label, values in cases:
            docs = render(values)
            skipped = validate(docs, label)
            note = f"; skipped (no schema in Kubernetes, a CRD's kind): {', '.join(skipped)}" if skipped else ""
            print(f"  {label}: {len(docs)} objects valid{note}")

        check_flags_reach_args()
        check_cluster_name_required()
        check_iam_policy()

        text = plain_manifest()
        if opts.update:
            MANIFEST.parent.mkdir(parents=True, exist_ok=True)
            MANIFEST.write_text(text)
            print(f"  wrote {MANIFEST.relative_to(ROOT)}")
        elif not MANIFEST.exists() or MANIFEST.read_text() != text:
            raise CheckError(f"{MANIFEST.relative_to(ROOT)} is not the chart's current default render; "
                             f"regenerate it with {REGENERATE}")
        else:
            print(f"  {MANIFEST.relative_to(ROOT)} matches the chart")
    except CheckError as e:
        print(f"deploy/check.sh: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
