#!/usr/bin/env bash
# A local federation of real kube-apiservers (host + 2 members), kubectl fed doing its work.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DIR=${DEMO_DIR:-$PWD/.localcluster}
export PATH="$PWD/$VENV/bin:$PATH"
export KUBECONFIG="$DIR/kubeconfig"
export KUBECTL_FED_CONFIG="$DIR/kubectl-fed.toml"

python -m tests.localcluster up --dir "$DIR" --members 2
set -x
kubectl fed init --context host
kubectl fed join member-1 --cluster-context member-1 --labels region=eu --overwrite
kubectl fed join member-2 --cluster-context member-2 --labels region=us --overwrite
kubectl fed clusters --refresh
kubectl apply -f - <<'YAML'
apiVersion: core.kubeadmiral.io/v1alpha1
kind: PropagationPolicy
metadata: {name: spread, namespace: default}
spec:
  schedulingMode: Divide
  placement:
  - {cluster: member-1, preferences: {weight: 1}}
  - {cluster: member-2, preferences: {weight: 2}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {kubeadmiral.io/propagation-policy-name: spread}
spec:
  replicas: 9
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
YAML
kubectl fed sync --once -o wide
kubectl fed get deploy web
kubectl fed explain deploy/web
set +x
cat <<MSG

The federation is running. Try it:
  export PATH="$PWD/$VENV/bin:\$PATH" KUBECONFIG="$KUBECONFIG" KUBECTL_FED_CONFIG="$KUBECTL_FED_CONFIG"
  kubectl fed clusters -o wide
Stop it with: make clean-demo
MSG
