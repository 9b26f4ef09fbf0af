#!/usr/bin/env bash
# A local federation of real kube-apiservers (host + 2 members), kubectl fed doing its work.
# The members run workloads: a controller manager, a scheduler and simulated nodes (KWOK),
# so the Deployment's pods really run there and its readiness is real.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
DIR=${DEMO_DIR:-$PWD/.localcluster}
export PATH="$PWD/$VENV/bin:$PATH"
export KUBECONFIG="$DIR/kubeconfig"
export KUBECTL_FED_CONFIG="$DIR/kubectl-fed.toml"

python -m tests.localcluster up --dir "$DIR" --members 2 --workloads
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
# The members' controllers start the pods (the steps above are also run by the README's
# tests on bare apiservers, where no pod ever starts; these below are not).
set -x
kubectl --context member-1 rollout status deployment/web --timeout=120s
kubectl --context member-2 rollout status deployment/web --timeout=120s
kubectl --context member-2 get pods -l app=web -o wide
kubectl fed sync --once          # collects the members' status into the template
kubectl fed status deploy/web
kubectl fed get deploy web
set +x
cat <<MSG

The federation is running. Try it:
  export PATH="$PWD/$VENV/bin:\$PATH" KUBECONFIG="$KUBECONFIG" KUBECTL_FED_CONFIG="$KUBECTL_FED_CONFIG"
  kubectl fed clusters -o wide
Stop it with: make clean-demo
MSG
