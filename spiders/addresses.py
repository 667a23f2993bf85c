"""No request to an address inside the network the crawl runs in, unless the user chose it.

A forum page, or whoever controls the forum's DNS, can name a host that resolves to
127.0.0.1, 10.0.0.5 or 169.254.169.254 (a cloud's metadata endpoint): the archiver would
fetch it and may archive the answer. So the check is made on the addresses a name resolves
to, at the moment of connecting, by the resolver the reactor connects with (``GuardedResolver``,
the TWISTED_DNS_RESOLVER setting): a name that resolves to a public address first and a
private one later is caught the second time too. What the user chose may be anywhere: an
address given in a seed URL (the bundled sample forum is on 127.0.0.1), localhost, and the
hosts listed in ARCHIVE_ALLOWED_HOSTS (an intranet forum known by name goes there).

The resolver is the reactor's, one per process, made before any spider exists: the crawl's
middleware (spiders.site_policy) tells it which hosts the user chose through ``GUARD``.
"""

from __future__ import annotations

import ipaddress
import threading

from scrapy.resolver import CachingHostnameResolver
from twisted.internet.interfaces import IResolutionReceiver
from zope.interface import implementer


def address_problem(address: str) -> str | None:
    """Why ``address`` is no place for the archiver to connect to ("a loopback address"), or
    None for a public address (and for what is no IP address at all)."""
    ip = _address(address)
    if ip is None:
        return None
    if ip.version == 6 and ip.ipv4_mapped:  # ::ffff:127.0.0.1 reaches 127.0.0.1
        ip = ip.ipv4_mapped
    for what, test in (
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("an unspecified", ip.is_unspecified),
        ("a private", ip.is_private),
        ("a multicast", ip.is_multicast),
    ):
        if test:
            return f"{what} address"
    return None if ip.is_global else "a reserved (not public) address"


class AddressGuard:
    """What the user chose (addresses given in a seed URL, host names they listed), and the
    hosts refused so far, with why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # resolutions finish in the reactor's thread pool
        self.chosen_hosts: set[str] = set()
        self.chosen_addresses: set[str] = set()
        self.refused: dict[str, str] = {}

    def choose(self, host: str, named: bool = False) -> None:
        """A host the user gave: an address in a URL is chosen; a name only when ``named``
        (listed in ARCHIVE_ALLOWED_HOSTS) or when it is localhost, which is loopback by
        definition. A seed's other names are not: their DNS can change under the crawl."""
        host = host.lower()
        with self._lock:
            if _address(host) is not None:
                self.chosen_addresses.add(str(_address(host)))
            elif named or host == "localhost":
                self.chosen_hosts.add(host)

    def problem(self, host: str, address: str) -> str | None:
        """Why connecting to ``address`` for ``host`` is refused, or None."""
        ip = _address(address)
        if host.lower() in self.chosen_hosts or (ip is not None and str(ip) in self.chosen_addresses):
            return None
        problem = address_problem(address)
        if problem is None:
            return None
        shown = address if _address(host) == ip else f"{host} resolves to {address}"
        return (
            f"{shown}, {problem}: not requested (only a seed URL given by that address, or a host"
            " listed in ARCHIVE_ALLOWED_HOSTS, may be on one)"
        )

    def refuse(self, host: str, why: str) -> None:
        with self._lock:
            self.refused[host.lower()] = why

    def why_refused(self, host: str | None) -> str | None:
        return self.refused.get((host or "").lower())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])  # fe80::1%eth0
    except ValueError:
        return None


GUARD = AddressGuard()


@implementer(IResolutionReceiver)
class _Screen:
    """Passes on the addresses the guard lets through; a name with none left fails to resolve
    (Twisted then raises its DNS error) and the guard remembers why."""

    def __init__(self, receiver, host: str) -> None:
        self.receiver, self.host = receiver, host
        self.passed, self.why = 0, None

    def resolutionBegan(self, resolution) -> None:
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address) -> None:
        why = GUARD.problem(self.host, getattr(address, "host", ""))
        if why is None:
            self.passed += 1
            self.receiver.addressResolved(address)
        else:
            self.why = self.why or why

    def resolutionComplete(self) -> None:
        if not self.passed and self.why:
            GUARD.refuse(self.host, self.why)
        self.receiver.resolutionComplete()


class GuardedResolver(CachingHostnameResolver):
    """Scrapy's caching resolver (IPv4 and IPv6), screening every answer through ``GUARD``,
    the cached ones too. An IP address in a URL goes through it as well."""

    def resolveHostName(self, resolutionReceiver, hostName, portNumber=0, addressTypes=None, transportSemantics="TCP"):
        screen = _Screen(resolutionReceiver, hostName)
        return super().resolveHostName(screen, hostName, portNumber, addressTypes, transportSemantics)
