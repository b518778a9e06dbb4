#!/usr/bin/env bash
# The main job, for now: start the emulated API server with the CRDs, apply the
# samples (the reference workflow's objects) and show the kubectl tables.
# Pass --keep to leave the server running (it prints the kubeconfig to use).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
work=$(mktemp -d)
kc="$work/kubeconfig"
.venv/bin/kvsriov apiserver --kubeconfig-out "$kc" >"$work/apiserver.log" 2>&1 &
pid=$!
keep=${1:-}
cleanup() { [ "$keep" = "--keep" ] || kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 100); do
  [ -s "$kc" ] && KUBECONFIG="$kc" kubectl get --raw /readyz >/dev/null 2>&1 && break
  sleep 0.1
done
export KUBECONFIG="$kc"
echo "\$ kubectl apply -f samples/"
kubectl apply -f samples/
for kind in sriovhosts sriovphysicalnics sriovl2networks sriovl3networks; do
  echo; echo "\$ kubectl get $kind"; kubectl get "$kind"
done
echo; echo "\$ kubectl apply of a Vlan L2 network with vlan 5000 (refused):"
kubectl apply -f - <<'YAML' || true
apiVersion: kvsriov.io/v1alpha1
kind: SriovL2Network
metadata: {name: bad-vlan}
spec: {type: Vlan, physicalInterface: em2, vlan: 5000}
YAML
echo; echo "\$ kubectl apply of a Vxlan L2 network (refused):"
kubectl apply -f - <<'YAML' || true
apiVersion: kvsriov.io/v1alpha1
kind: SriovL2Network
metadata: {name: overlay}
spec: {type: Vxlan, physicalInterface: em2}
YAML
if [ "$keep" = "--keep" ]; then
  echo; echo "The API server keeps running (pid $pid): export KUBECONFIG=$kc"
fi
