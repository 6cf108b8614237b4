"""Fetching product images by URL, only when the user allows network access.

The guard refuses anything but http(s), and any host that resolves to a private, loopback,
link-local, multicast, reserved or unspecified address (no reaching the router, the cloud
metadata service or a local admin page through a catalogue file). Redirects are followed by hand
(at most 3) and each hop is checked again. The body is capped at ``max_bytes``.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request


class FetchRefused(ValueError):
    """The URL may not or could not be fetched. The message says why."""


def check_url(url: str) -> str:
    """Return the host of ``url`` if it is safe to fetch; raise :class:`FetchRefused` otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"only http(s) image URLs are fetched, not {parts.scheme or 'a bare path'!r}")
    host = parts.hostname
    if not host:
        raise FetchRefused(f"URL has no host: {url[:80]!r}")
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise FetchRefused(f"cannot resolve {host}: {e.strerror}") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
            raise FetchRefused(f"{host} resolves to {ip}, a private or local address: refused")
    return host


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch_bytes(url: str, *, allow_network: bool, max_bytes: int, timeout: float = 10.0, max_redirects: int = 3) -> bytes:
    """GET ``url`` (checked by :func:`check_url`, each redirect too) and return at most ``max_bytes``.

    Raises:
        FetchRefused: network not allowed, unsafe or unreachable host, HTTP error, or too large.
    """
    if not allow_network:
        raise FetchRefused("image URL not fetched: network access is off (set RESTYLE_ALLOW_NETWORK=true)")
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(max_redirects + 1):
        check_url(url)
        req = urllib.request.Request(url, headers={"User-Agent": "restyle-catalog/0.1"})
        try:
            with opener.open(req, timeout=timeout) as resp:
                data = resp.read(max_bytes + 1)
        except urllib.error.HTTPError as e:
            if e.code in (301, 302, 303, 307, 308) and e.headers.get("Location"):
                url = urllib.parse.urljoin(url, e.headers["Location"])
                continue
            raise FetchRefused(f"HTTP {e.code} fetching {url[:80]}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise FetchRefused(f"cannot fetch {url[:80]}: {getattr(e, 'reason', e)}") from None
        if len(data) > max_bytes:
            raise FetchRefused(f"image at {url[:80]} is over {max_bytes:,} bytes")
        return data
    raise FetchRefused(f"too many redirects fetching {url[:80]}")
