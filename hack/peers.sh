#!/usr/bin/env bash
# Build the real peer programs the tests run (each from its Go module, cached under
# ~/.cache/kvsriov or <repo>/.cache), before pytest starts: a first build takes minutes, far
# longer than a test's timeout, so it must not happen inside a test fixture.
# One progress line per peer, with how long it took. A peer that cannot be built here (no Go,
# the module proxy refuses it) is reported and skipped: its tests then skip with the reason.
# Exit 0 always, unless a build script itself is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
# name | build script | what a first build costs on 2 cores
peers=(
  "kube-apiserver and kube-scheduler v1.34.4, etcd v3.6.4|hack/real-apiserver/build.sh|about 12 minutes the first time"
  "whereabouts v0.9.2|hack/whereabouts/build.sh|about 2 minutes the first time"
  "helm v3.22.0|hack/helm/build.sh|about 3 minutes the first time"
  "CNI plugins (sriov-cni, static, host-device)|hack/sriov-cni/build.sh|about 2 minutes the first time"
)
for entry in "${peers[@]}"; do
  IFS='|' read -r name script cost <<<"$entry"
  [ -f "$script" ] || { echo "peers: $script is missing" >&2; exit 1; }
  start=$SECONDS
  echo "== peer: $name ($script; $cost, then cached)"
  log=$(mktemp)
  if dir=$(bash "$script" 2>"$log"); then
    echo "   ready in $((SECONDS - start)) s: $(tail -n1 <<<"$dir")"
  else
    rc=$?
    echo "   not (all) built (exit $rc, $((SECONDS - start)) s): the tests that need what is missing skip; why:"
    tail -n 5 "$log" | sed 's/^/     /'
  fi
  rm -f "$log"
done
