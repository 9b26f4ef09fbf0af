from __future__ import annotations

import pytest

from kubectl_fed.core.proxy import proxy_for

ENV = {"HTTPS_PROXY": "proxy:3128", "http_proxy": "http://plain:8080"}


@pytest.mark.parametrize(
    ("server", "no_proxy", "expected"),
    [
        ("https://api.example.com", "", "http://proxy:3128"),  # no scheme: http://
        ("http://api.example.com", "", "http://plain:8080"),
        ("https://localhost:6443", "", None),  # never proxied, as in Go
        ("https://127.0.0.1:6443", "", None),
        ("https://[::1]:6443", "", None),
        ("https://api.example.com", "*", None),
        ("https://api.example.com", "other.org, .example.com", None),
        ("https://api.example.com", "example.com", None),  # subdomains too
        ("https://myexample.com", "example.com", "http://proxy:3128"),
        ("https://10.1.2.3", "10.0.0.0/8", None),
        ("https://10.1.2.3", "10.1.2.3", None),
        ("https://11.1.2.3", "10.0.0.0/8", "http://proxy:3128"),
        ("https://api.example.com:6443", "api.example.com:443", "http://proxy:3128"),
        ("https://api.example.com:6443", "api.example.com:6443", None),
        ("https://api.example.com", "bad/cidr,", "http://proxy:3128"),
    ],
)
def test_environment_proxy_like_kubectl(server: str, no_proxy: str, expected: str | None) -> None:
    assert proxy_for(server, None, {**ENV, "NO_PROXY": no_proxy}) == expected


def test_kubeconfig_proxy_url_wins() -> None:
    assert proxy_for("https://127.0.0.1", "http://p:1", ENV) == "http://p:1"
    assert proxy_for("https://api.example.com", None, {}) is None
