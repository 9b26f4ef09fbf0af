"""Client CPU per request: kubectl-fed's transport against the generated kubernetes client.

    python -m benchmarks.bench_client [--requests 500]

On one local apiserver: a Deployment is read (GET) and server-side applied (PATCH)
`--requests` times, one request at a time, through
  - kubectl-fed's ClusterClient (kube/transport.py, http.client), and
  - the kubernetes package's ApiClient.call_api (urllib3), raw JSON, no models;
printing the client process's CPU time per request (process_time), which is what a
sync pass pays thousands of times. Also the import time of each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests import localcluster

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "probe", "namespace": "default", "labels": {"app": "probe"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "probe"}},
        "template": {
            "metadata": {"labels": {"app": "probe"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
        },
    },
}
PATH = "/apis/apps/v1/namespaces/default/deployments/probe"


def cpu_per_request(send: Callable[[], Any], count: int) -> float:
    send()  # connect and warm up
    started = time.process_time()
    for _ in range(count):
        send()
    return (time.process_time() - started) / count * 1000


def ours(kubeconfig: Path) -> dict[str, Callable[[], Any]]:
    from kubectl_fed.kube.connect import connect_context

    kube = connect_context(str(kubeconfig), "member-1", 30)
    kube.apply(PATH, DEPLOYMENT)
    return {"GET": lambda: kube.get(PATH), "apply": lambda: kube.apply(PATH, DEPLOYMENT)}


def generated(kubeconfig: Path) -> dict[str, Callable[[], Any]]:
    from kubernetes import config

    api = config.new_client_from_config(config_file=str(kubeconfig), context="member-1")

    def call(method: str, body: Any = None, content_type: str = "application/json") -> Any:
        query = [("fieldManager", "bench"), ("force", "true")] if body else []
        response = api.call_api(
            PATH,
            method,
            query_params=query,
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
        )
        return json.loads(response.data)

    return {
        "GET": lambda: call("GET"),
        "apply": lambda: call("PATCH", DEPLOYMENT, "application/apply-patch+yaml"),
    }


def import_seconds(statement: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        localcluster.up(directory, members=1, log=sys.stderr)
        kubeconfig = directory / "kubeconfig"
        clients = {"kubectl-fed transport": ours, "generated client": generated}
        for label, make in clients.items():
            senders = make(kubeconfig)
            cells = [
                f"{verb} {cpu_per_request(send, args.requests):.3f} ms"
                for verb, send in senders.items()
            ]
            print(f"{label}: client CPU per request: {', '.join(cells)}")
        localcluster.down(directory, remove=False)
    for label, statement in (
        ("kubectl_fed.kube.connect", "import kubectl_fed.kube.connect"),
        ("kubernetes.config", "import kubernetes.config"),
        ("python alone", "pass"),
    ):
        best = min(import_seconds(statement) for _ in range(5))
        print(f"import {label}: {best:.2f} s (best of 5, interpreter start included)")


if __name__ == "__main__":
    main()
