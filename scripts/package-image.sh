#!/usr/bin/env bash
# Packages an operator binary built outside into the container image, offline: no registry, no
# base image, no daemon. The image (Dockerfile.scratch, FROM scratch) holds the binary, exactly
# the shared libraries it links (none for a static build), the CA bundle for TLS to AWS and the
# API server, /etc/passwd and /etc/group naming the non-root user 65532, and nothing else: no
# shell, no package manager, nothing writable by that user.
#
#   scripts/build-release.sh && scripts/package-image.sh --tag aws-lb-operator:0.1.0
#
# Options:
#   --binary PATH       the binary (default: ${CARGO_TARGET_DIR:-target}/release/aws-lb-operator)
#   --tag NAME          the image name (default: localhost/aws-lb-operator:<version>)
#   --ca-bundle FILE    CA certificates to ship (default: /etc/ssl/certs/ca-certificates.crt)
#   --extra-ca FILE     a PEM certificate appended to the bundle (tests use a throwaway CA)
#   --context-only DIR  write the build context to DIR and stop (for `docker build -f
#                       Dockerfile.scratch DIR` where buildah is missing)
#
# Prints the image name as its last line. Needs buildah (Debian: apt-get install buildah).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
  echo "scripts/package-image.sh: $*" >&2
  exit 1
}

binary=${CARGO_TARGET_DIR:-target}/release/aws-lb-operator
tag=
ca_bundle=/etc/ssl/certs/ca-certificates.crt
extra_ca=
context_only=
while (($#)); do
  case $1 in
    --binary | --tag | --ca-bundle | --extra-ca | --context-only)
      (($# >= 2)) || die "$1 needs a value"
      case $1 in
        --binary) binary=$2 ;;
        --tag) tag=$2 ;;
        --ca-bundle) ca_bundle=$2 ;;
        --extra-ca) extra_ca=$2 ;;
        --context-only) context_only=$2 ;;
      esac
      shift 2
      ;;
    *) die "unknown argument: $1" ;;
  esac
done

[[ -f $binary && -x $binary ]] ||
  die "no executable binary at $binary: build it with scripts/build-release.sh, or pass --binary"
[[ -s $ca_bundle ]] ||
  die "no CA bundle at $ca_bundle: install Debian's ca-certificates, or pass --ca-bundle"
if [[ -n $extra_ca ]]; then
  grep -q -- '-----BEGIN CERTIFICATE-----' "$extra_ca" 2>/dev/null ||
    die "--extra-ca $extra_ca is not a PEM certificate"
fi
version=$("$binary" --version) || die "$binary --version failed"
version=${version#aws-lb-operator }
tag=${tag:-localhost/aws-lb-operator:$version}
if [[ -z $context_only ]]; then
  command -v buildah >/dev/null ||
    die "buildah is not installed (Debian: apt-get install buildah), or use --context-only DIR"
fi

if [[ -n $context_only ]]; then
  mkdir -p "$context_only"
  ctx=$context_only
else
  ctx=$(mktemp -d)
  # The rootfs is read-only by design: make it removable again.
  trap 'chmod -R u+w "$ctx" 2>/dev/null; rm -rf "$ctx"' EXIT
fi
root=$ctx/rootfs
[[ -e $root ]] && chmod -R u+w "$root" && rm -rf "$root"
mkdir -p "$root"

# Everything is owned by root (COPY sets uid 0) and read-only: directories 0555, files 0444,
# the binary and the libraries 0555 (the dynamic loader is executed).
install -m 0555 "$binary" "$root/aws-lb-operator"

# Exactly the shared libraries the binary links, at the paths the loader looks for them.
if ldd_out=$(ldd "$binary" 2>&1); then
  libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_out")
else
  grep -Eq 'not a dynamic executable|statically linked' <<<"$ldd_out" ||
    die "ldd $binary failed: $ldd_out"
  libs=
fi
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  install -m 0555 "$(readlink -f "$lib")" "$root$lib"
done

mkdir -p "$root/etc/ssl/certs"
cat "$ca_bundle" ${extra_ca:+"$extra_ca"} >"$root/etc/ssl/certs/ca-certificates.crt"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
chmod 0444 "$root/etc/passwd" "$root/etc/group" "$root/etc/ssl/certs/ca-certificates.crt"
find "$root" -type d -exec chmod 0555 {} +
cp Dockerfile.scratch "$ctx/Dockerfile.scratch"

if [[ -n $context_only ]]; then
  echo "build context written to $ctx (docker build -f $ctx/Dockerfile.scratch --build-arg VERSION=$version $ctx)"
  exit 0
fi
buildah build --quiet --layers=false -f "$ctx/Dockerfile.scratch" \
  --build-arg "VERSION=$version" -t "$tag" "$ctx" >/dev/null
echo "$tag"
