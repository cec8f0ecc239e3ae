#!/usr/bin/env bash
# What the pull-request and deploy workflows run (.github/workflows, .forgejo/workflows):
#   scripts/pr-preview.sh preview   pulumi preview --diff of every stack in the head (with the
#                                   policy pack, policy/: a violation fails the stack), npm run
#                                   render of base and head, one comment on the pull request
#                                   (scripts/pr-comment.ts, scripts/post-comment.ts), updated in place
#   scripts/pr-preview.sh up STACK  pulumi up of one stack with the policy pack (the deploy
#                                   workflow, per environment)
# Environment: PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE (repository secrets), the
# backend's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for s3://), BASE_SHA (the
# pull request's base commit), STACKS (default: daarion menagerie ouranos), and for posting
# FORGE_API_URL FORGE_REPOSITORY FORGE_PR FORGE_TOKEN FORGE_KIND; without FORGE_TOKEN the
# comment is only written to $OUT (default .pr-preview/comment.md).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
fail() { echo "pr-preview: $*" >&2; exit 1; }
[[ -n "${PULUMI_BACKEND_URL:-}" ]] || fail "PULUMI_BACKEND_URL is not set (repository secret)"
[[ -n "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]] || fail "PULUMI_CONFIG_PASSPHRASE is not set (repository secret)"
export PULUMI_SKIP_UPDATE_CHECK=true
pulumi login "$PULUMI_BACKEND_URL" >/dev/null

case "$mode" in
  preview)
    [[ -n "${BASE_SHA:-}" ]] || fail "BASE_SHA is not set (the pull request's base commit)"
    work=".pr-preview"
    rm -rf "$work"; mkdir -p "$work/previews"
    git worktree remove --force "$work/base" 2>/dev/null || true
    git worktree add --detach "$work/base" "$BASE_SHA" >/dev/null
    ln -s "$PWD/node_modules" "$work/base/node_modules"
    stacks=(${STACKS:-daarion menagerie ouranos})
    for s in "${stacks[@]}"; do
      set +e
      pulumi preview --diff --policy-pack policy --non-interactive --color never --stack "$s" > "$work/previews/$s.txt" 2>&1
      echo $? > "$work/previews/$s.code"
      set -e
    done
    set +e
    npx tsx scripts/pr-comment.ts --base "$work/base" --head . --previews "$work/previews" --stacks "$(IFS=,; echo "${stacks[*]}")" --out "${OUT:-$work/comment.md}"
    code=$?
    set -e
    git worktree remove --force "$work/base"
    if [[ -n "${FORGE_TOKEN:-}" ]]; then npx tsx scripts/post-comment.ts "${OUT:-$work/comment.md}"; fi
    exit "$code"
    ;;
  up)
    [[ -n "${2:-}" ]] || fail "usage: scripts/pr-preview.sh up STACK"
    pulumi up --yes --policy-pack policy --non-interactive --color never --stack "$2"
    ;;
  *) fail "usage: scripts/pr-preview.sh preview | up STACK" ;;
esac
