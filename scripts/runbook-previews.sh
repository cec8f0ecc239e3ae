#!/usr/bin/env bash
# Real previews of a deployed stack, for the runbooks (docs/runbook-<stack>.md):
#   bash scripts/runbook-previews.sh menagerie|daarion OUTDIR
# The engine of .engine/bin (scripts/build-engine.sh) deploys the stack's example config
# (`pulumi up`, file:// backend) against mocked hosts: every host of the stack is pointed
# at one sshd on loopback whose ForceCommand reads each command's stdin and exits 0, and
# answers the fetch of a git-sourced compose file (`base64 < …`) with a stand-in. Then
# each runbook section's commands run on a copy of that deployed state and their
# `pulumi preview` (and `--diff`) go to OUTDIR/<scenario>.txt. Nothing leaves loopback;
# the sshd runs only while the script does. ouranos is not possible here (no minio plugin).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
stack="${1:-}"; out="${2:-}"
[[ "$stack" == menagerie || "$stack" == daarion ]] && [[ -n "$out" ]] || { echo "usage: scripts/runbook-previews.sh menagerie|daarion OUTDIR" >&2; exit 2; }
BIN="${FLEET_ENGINE_BIN:-$ROOT/.engine/bin}"
[[ -x "$BIN/pulumi" ]] || { echo "runbook-previews: no engine in $BIN: run scripts/build-engine.sh" >&2; exit 1; }
NODE_DIR="$(bash "$ROOT/scripts/node.sh")"
mkdir -p "$out"; out="$(cd "$out" && pwd)"

work="$(mktemp -d /tmp/fleet-runbook-XXXXXX)"
sshd_pid=""
cleanup() { [[ -n "$sshd_pid" ]] && kill "$sshd_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The mocked host.
ssh-keygen -q -t ed25519 -N "" -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N "" -f "$work/clientkey"
cp "$work/clientkey.pub" "$work/authorized_keys"
printf 'services:\n  app:\n    build: .\n    env_file: .env\n    restart: unless-stopped\n' > "$work/compose.yml"
cat > "$work/force.sh" <<EOF
#!/bin/sh
cat > /dev/null
case "\$SSH_ORIGINAL_COMMAND" in
  *"base64 <"*) base64 -w0 < "$work/compose.yml" ;;
esac
exit 0
EOF
chmod 755 "$work/force.sh"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat > "$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/hostkey
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin yes
PasswordAuthentication no
UsePAM no
StrictModes no
PidFile $work/sshd.pid
ForceCommand $work/force.sh
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2> "$work/sshd.log" &
sshd_pid=$!

# The app repositories the stack file names, as local bare repositories (the tests' own
# fixture, test/helpers/app-repositories.ts): a preview resolves every ref with git, and git's
# `url.<dir>.insteadOf` in the environment sends the configured URLs there. The runbooks'
# upgrade and rollback refs are tags on new commits, so each shows as a change.
gitroot="$work/git"
eval "$(cd "$ROOT" && PATH="$NODE_DIR:$PATH" npx tsx -e '
const { appRepositories } = require("./test/helpers/app-repositories");
const { sh } = require("./src/remote/quote");
for (const [k, v] of Object.entries(appRepositories(process.argv[1]))) console.log(`export ${k}=${sh(v)}`);
' "$gitroot")"
tagged() { # dir, repository, then tags, each on a new commit
  local w="$gitroot/work/$1/$2" b="$gitroot/$1/$2.git"; shift 2
  for t in "$@"; do
    git -C "$w" -c user.name=runbook -c user.email=runbook@example.com commit -q --allow-empty -m "$t"
    git -C "$w" tag "$t"; git -C "$w" push -q "$b" "$t"
  done
}
tagged circuitforge peregrine v1.4.1 v1.4.2
tagged github-ivantytar microdao-daarion v1.4.0

# The project, its hosts pointed at the mocked host (DAARION's digests pinned: no registry).
proj="$work/project"
mkdir -p "$proj" "$work/state"
for f in Pulumi.yaml package.json tsconfig.json tsconfig.pulumi.json "Pulumi.$stack.yaml"; do cp "$ROOT/$f" "$proj/"; done
cp -r "$ROOT/src" "$ROOT/stacks" "$ROOT/templates" "$proj/"
ln -s "$ROOT/node_modules" "$proj/node_modules"
(cd "$ROOT" && PATH="$NODE_DIR:$PATH" npx tsx -e '
const fs = require("node:fs"); const crypto = require("node:crypto"); const { parseDocument } = require("yaml");
const [file, stack, port, hostKey] = process.argv.slice(1);
const doc = parseDocument(fs.readFileSync(file, "utf8"));
for (const name of Object.keys(doc.getIn(["config", "fleet:hosts"]).toJSON())) {
  doc.setIn(["config", "fleet:hosts", name, "address"], "127.0.0.1");
  doc.setIn(["config", "fleet:hosts", name, "port"], Number(port));
  doc.setIn(["config", "fleet:hosts", name, "hostKey"], hostKey);
}
if (stack === "daarion") {
  const { CATALOGUE } = require("./stacks/daarion/catalogue");
  for (const s of CATALOGUE) doc.setIn(["config", "fleet:daarion", "images", s.name, "digest"], "sha256:" + crypto.createHash("sha256").update(s.name + "-v1").digest("hex"));
}
fs.writeFileSync(file, doc.toString());
' "$proj/Pulumi.$stack.yaml" "$stack" "$port" "$(cut -d' ' -f1,2 "$work/hostkey.pub")")

export PATH="$BIN:$NODE_DIR:$PATH" HOME="$work" PULUMI_HOME="$work/pulumi" PULUMI_CONFIG_PASSPHRASE=runbook-previews \
  PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true NO_COLOR=1
P=(--non-interactive --color never)
cd "$proj"
pulumi login "file://$work/state" >/dev/null
pulumi stack init "$stack" --secrets-provider passphrase >/dev/null
pulumi config set --secret fleet:sshPrivateKey < "$work/clientkey"
if [[ "$stack" == menagerie ]]; then
  for k in directusJwtSecret platformDbPassword; do pulumi config set --secret "fleet:$k" "runbook-$k"; done
fi
echo "runbook-previews: pulumi up of $stack against the mocked host on 127.0.0.1:$port ..."
pulumi up --yes "${P[@]}" > "$out/first-up.txt" 2>&1 || { tail -20 "$out/first-up.txt" >&2; exit 1; }
pulumi preview "${P[@]}" > "$out/unchanged.txt" 2>&1
cp "Pulumi.$stack.yaml" "$work/deployed.yaml"

scenario() { # name, then the commands of the runbook section (run with eval)
  local name="$1"; shift
  for c in "$@"; do eval "$c"; done
  pulumi preview "${P[@]}" > "$out/$name.txt" 2>&1 || true
  pulumi preview --diff "${P[@]}" > "$out/$name-diff.txt" 2>&1 || true
  echo "runbook-previews: $name: $(grep -A4 '^Resources:' "$out/$name.txt" | tr -s ' \n' ' ')"
}

if [[ "$stack" == daarion ]]; then
  scenario upgrade "pulumi config set --path 'fleet:daarion.repo.ref' v1.4.0" \
    "pulumi config set --path 'fleet:daarion.images.city-service.digest' sha256:$(printf city-service-v2 | sha256sum | cut -d' ' -f1)"
  pulumi up --yes "${P[@]}" > "$out/upgrade-up.txt" 2>&1
  cp "Pulumi.$stack.yaml" "$work/upgraded.yaml"
  scenario rollback "pulumi config set --path 'fleet:daarion.rollback.digests.city-service' sha256:$(printf city-service-v1 | sha256sum | cut -d' ' -f1)" \
    "pulumi config set --path 'fleet:daarion.rollback.active' true"
  cp "$work/upgraded.yaml" "Pulumi.$stack.yaml"
  scenario rotate "pulumi config set --secret fleet:daarionPostgresPassword new-value-set-in-the-database-first" \
    "pulumi state unprotect --yes \$(pulumi stack --show-urns | grep -o 'urn:[^ ]*RandomPassword::noda[0-9]*-postgres-password') ${P[*]} > /dev/null"
else
  scenario upgrade "pulumi config set --path 'fleet:menagerie.apps[0].repo.ref' v1.4.2"
  pulumi up --yes "${P[@]}" > "$out/upgrade-up.txt" 2>&1
  cp "Pulumi.$stack.yaml" "$work/upgraded.yaml"
  scenario rollback "pulumi config set --path 'fleet:menagerie.apps[0].repo.ref' v1.4.1"
  cp "$work/upgraded.yaml" "Pulumi.$stack.yaml"
  scenario rotate "pulumi config set --secret fleet:directusJwtSecret rotated-in-the-website-stack-first"
fi
echo "runbook-previews: previews in $out"
