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
set +x
cat <<MSG

The federation is running. Try it:
  export PATH="$PWD/$VENV/bin:\$PATH" KUBECONFIG="$KUBECONFIG" KUBECTL_FED_CONFIG="$KUBECTL_FED_CONFIG"
  kubectl fed clusters -o wide
Stop it with: make clean-demo
MSG
