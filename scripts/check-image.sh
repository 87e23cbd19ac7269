#!/usr/bin/env bash
# Builds the container image with scripts/package-image.sh from the debug binary (no release
# build), mounts it, and proves from inside it, running its entrypoint with chroot as the image's
# own user (podman run is not available on every machine):
#
#   1. nothing in the image is writable by that user, and it holds no shell;
#   2. `--version` runs as that user (the user is read from the image's configuration, and must
#      not be root);
#   3. `plan -f` on an example mounted into it prints what the same binary prints outside;
#   4. TLS verifies with the image's CA bundle: a local HTTPS endpoint whose certificate a
#      throwaway CA signed is reached from an image built with that CA appended to its bundle,
#      and refused (UnknownIssuer) from the image without it.
#
# Removes every container, mount, image and file it made. Run by scripts/test.sh.
#
# Environment:
#   CARGO_TARGET_DIR                 where the debug binary is (default: target)
#   AWS_LB_OPERATOR_SKIP_IMAGE=1     skip this check (say so in CI's log; nothing is proven)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
  echo "scripts/check-image.sh: FAILED: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

if [[ ${AWS_LB_OPERATOR_SKIP_IMAGE:-} == 1 ]]; then
  echo "scripts/check-image.sh: SKIPPED (AWS_LB_OPERATOR_SKIP_IMAGE=1): the image is not checked"
  exit 0
fi

# buildah: Debian's package, installed once when missing (quick and skipped when present).
if ! command -v buildah >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing buildah (apt-get install buildah)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah; } \
      >/dev/null || fail "apt-get install buildah failed"
  else
    fail "buildah is not installed and cannot be installed here (needs root and apt-get); \
install it, or set AWS_LB_OPERATOR_SKIP_IMAGE=1 to skip this check"
  fi
fi
[[ $(id -u) == 0 ]] || fail "mounting images and chroot need root"
for tool in openssl python3 setpriv chroot; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

binary=${CARGO_TARGET_DIR:-target}/debug/aws-lb-operator
[[ -x $binary ]] || fail "no debug binary at $binary: run cargo build first"

work=$(mktemp -d)
chmod 0755 "$work"
images=()
containers=()
mounts=()
server_pid=
cleanup() {
  set +e
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null; done
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1; done
  for i in "${images[@]}"; do buildah rmi "$i" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT

# --- build the image (and, for the TLS check, the same image with a throwaway CA) -----------
tag=localhost/aws-lb-operator-check:$$
image=$(scripts/package-image.sh --binary "$binary" --tag "$tag" | tail -1)
images+=("$image")
ok "built $image from $binary"

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
[[ $user =~ ^[0-9]+:[0-9]+$ ]] || fail "the image's user is '$user', not numeric uid:gid"
[[ ${user%%:*} != 0 ]] || fail "the image runs as root ($user)"
entrypoint=$(buildah inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$image")
[[ $entrypoint == '[/aws-lb-operator]' ]] || fail "entrypoint is $entrypoint"

# Mounts a new container of image $1 and sets $mnt to its root.
mount_image() {
  local c
  c=$(buildah from --quiet "$1")
  containers+=("$c")
  mnt=$(buildah mount "$c")
}
# Runs the entrypoint with the given arguments inside $mnt as the image's user, with an empty
# environment apart from dummy AWS credentials.
in_image() {
  env -i AWS_ACCESS_KEY_ID=check AWS_SECRET_ACCESS_KEY=check AWS_EC2_METADATA_DISABLED=true \
    "$(command -v chroot)" --userspec="$user" "$mnt" /aws-lb-operator "$@"
}

mount_image "$image"

# --- 1. nothing writable by the user, no shell ------------------------------------------------
# The storage directory is closed to other users: look at the image through a bind mount.
view=$work/view
mkdir "$view"
mount --bind "$mnt" "$view"
mounts+=("$view")
as_user=(setpriv --reuid="${user%%:*}" --regid="${user##*:}" --clear-groups)
# From /: the user may not be allowed into the current directory (a checkout in a private
# directory), and find fails when it cannot return there.
seen=$(cd / && "${as_user[@]}" find "$view" -type f | wc -l)
((seen >= 4)) || fail "as $user, find saw only $seen files in the image"
writable=$(cd / && "${as_user[@]}" find "$view" -writable)
[[ -z $writable ]] || fail "writable by $user in the image: $writable"
owned=$(find "$view" \( -user "${user%%:*}" -o -group "${user##*:}" \) -print)
[[ -z $owned ]] || fail "owned by $user in the image: $owned"
files=$(cd "$view" && find . -type f -o -type l | sed 's|^\.||' | sort)
unexpected=$(grep -Ev '^/aws-lb-operator$|^/etc/(passwd|group|ssl/certs/ca-certificates\.crt)$|^/lib(64|/[a-z0-9_-]+)?/[^/]+\.so(\.[0-9]+)*$' <<<"$files" || true)
[[ -z $unexpected ]] || fail "unexpected files in the image: $unexpected"
for shell in /bin/sh /bin/bash /usr/bin/sh /bin/busybox; do
  [[ ! -e $view$shell ]] || fail "the image holds a shell: $shell"
done
umount "$view"
mounts=()
ok "$seen files, none writable or owned by $user, no shell: $(tr '\n' ' ' <<<"$files")"

# --- 2. --version as the user -----------------------------------------------------------------
want=$("$binary" --version)
got=$(in_image --version) || fail "--version failed in the image as $user"
[[ $got == "$want" ]] || fail "--version in the image printed '$got', not '$want'"
ok "'$got' as $user"

# --- 3. plan -f on a mounted example ---------------------------------------------------------
mkdir "$mnt/examples" # in the container's layer, not the image
mount --bind -o ro examples "$mnt/examples"
mounts+=("$mnt/examples")
want=$("$binary" plan -f examples/seed -o json)
got=$(in_image plan -f /examples/seed -o json) || fail "plan -f /examples/seed failed in the image"
[[ $got == "$want" ]] || fail "plan in the image differs from plan outside: $(diff <(echo "$want") <(echo "$got") | head -20)"
grep -q '"loadBalancers"' <<<"$got" || grep -q 'k8s-shop-storefro' <<<"$got" ||
  fail "plan in the image printed no load balancer: $got"
umount "$mnt/examples"
mounts=()
ok "plan -f /examples/seed in the image prints what it prints outside ($(wc -c <<<"$got") bytes)"

# --- 4. TLS with the image's CA bundle -------------------------------------------------------
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=aws-lb-operator check CA" \
    -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout srv.key -out srv.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
  openssl x509 -req -days 1 -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -extfile ext -out srv.pem 2>/dev/null
) || fail "openssl could not make the test certificates"
# An HTTPS endpoint answering every request with an AWS query-protocol error, so a request that
# got through TLS fails with a message only this server sends.
cat >"$work/server.py" <<'EOF'
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>ReachedOverTls</Code>"
                b"<Message>verified with the image's CA bundle</Message></Error>"
                b"<RequestId>check</RequestId></ErrorResponse>")
        self.send_response(400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
EOF
python3 "$work/server.py" "$work/srv.pem" "$work/srv.key" >"$work/port" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 50); do [[ -s $work/port ]] && break; sleep 0.1; done
port=$(cat "$work/port")
[[ $port =~ ^[0-9]+$ ]] || fail "the HTTPS test server did not start: $(cat "$work/server.log")"
discover=(discover --cluster-name check --region us-east-1 --aws-max-attempts 1
  --aws-endpoint-url "https://127.0.0.1:$port")

# Without the CA: refused, so the system's bundle outside the image plays no part.
if out=$(in_image "${discover[@]}" 2>&1); then fail "discover succeeded against the test server: $out"; fi
want_refused="error: elbv2.DescribeLoadBalancers failed: ConnectionError: io error: client error (Connect): TLS handshake failed: invalid peer certificate: UnknownIssuer"
[[ $out == "$want_refused" ]] || fail "without the test CA, expected '$want_refused', got: $out"
ok "without the test CA in its bundle, the image refuses the endpoint (UnknownIssuer)"

ca_image=$(scripts/package-image.sh --binary "$binary" --tag "$tag-ca" --extra-ca "$work/ca.pem" | tail -1)
images+=("$ca_image")
mount_image "$ca_image"
if out=$(in_image "${discover[@]}" 2>&1); then fail "discover succeeded against the test server: $out"; fi
want_reached="error: elbv2.DescribeLoadBalancers failed: ReachedOverTls: verified with the image's CA bundle"
[[ $out == "$want_reached" ]] || fail "with the test CA, expected '$want_reached', got: $out"
ok "with the test CA in its bundle, the image verifies the endpoint and gets its answer"
echo "scripts/check-image.sh: the image is proven"
