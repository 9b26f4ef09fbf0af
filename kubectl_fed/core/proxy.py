"""Which proxy a request to an apiserver goes through, as kubectl decides it.

A kubeconfig cluster's `proxy-url` wins; else the environment: HTTPS_PROXY (for https
servers) or HTTP_PROXY (for http ones), either spelling case, unless NO_PROXY
exempts the host. As in Go's net/http (what kubectl uses), localhost and loopback
addresses are never proxied, and a proxy given without a scheme is http://.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit


def proxy_for(server: str, proxy_url: str | None, environ: Mapping[str, str]) -> str | None:
    if proxy_url:
        return proxy_url
    url = urlsplit(server)
    host = (url.hostname or "").lower()
    if not host or host == "localhost" or _is_loopback(host):
        return None
    names = (
        ("HTTPS_PROXY", "https_proxy") if url.scheme == "https" else ("HTTP_PROXY", "http_proxy")
    )
    proxy = next((environ[n] for n in names if environ.get(n)), "")
    if not proxy:
        return None
    port = url.port or (443 if url.scheme == "https" else 80)
    no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    if any(_exempts(entry.strip().lower(), host, port) for entry in no_proxy.split(",")):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _exempts(entry: str, host: str, port: int) -> bool:
    """One NO_PROXY entry: `*`, an IP, a CIDR, or a domain (with or without a leading
    dot, matching the domain and its subdomains), optionally with `:port`."""
    if not entry:
        return False
    if entry == "*":
        return True
    if "/" in entry:
        return _in_network(host, entry)
    entry_host, entry_port = _split_port(entry)
    if entry_port is not None and entry_port != port:
        return False
    if _ip(entry_host) is not None:
        return _ip(entry_host) == _ip(host)
    domain = entry_host.lstrip(".")
    return host == domain or host.endswith("." + domain)


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [v6]:port
        address, _, rest = entry[1:].partition("]")
        return address, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        return name, int(port) if port.isdigit() else None
    return entry, None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    address = _ip(host)
    return address is not None and address.is_loopback


def _in_network(host: str, cidr: str) -> bool:
    address = _ip(host)
    try:
        return address is not None and address in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
