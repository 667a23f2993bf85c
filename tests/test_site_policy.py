"""What counts as the site, and which addresses the crawl may connect to.

The resolver is tried with a fake name service (a public-looking name that resolves to a
private address is the case DNS cannot be made to show here), then the real crawl with
getaddrinfo planted to answer a made-up name with 127.0.0.1.
"""

from __future__ import annotations

import pytest
from sqlite_utils import Database
from twisted.internet.address import IPv4Address, IPv6Address

from spiders.addresses import GUARD, GuardedResolver, address_problem
from spiders.site_policy import allowed_hosts, host_port
from test_failures import HostileForum, crawl, page_rows, unexpected_tracebacks


@pytest.mark.parametrize(
    "address, problem",
    [
        ("127.0.0.2", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local address"),  # a cloud's metadata endpoint
        ("0.0.0.0", "an unspecified address"),
        ("::1", "a loopback address"),
        ("fe80::1%eth0", "a link-local address"),
        ("fd12:3456::1", "a private address"),
        ("::ffff:10.0.0.1", "a private address"),  # IPv4-mapped
        ("100.64.0.1", "a reserved (not public) address"),  # carrier-grade NAT
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_which_addresses_are_refused(address, problem):
    assert address_problem(address) == problem


def test_allowed_hosts_are_hosts_on_the_web_ports_unless_a_port_is_given():
    assert allowed_hosts(" cdn.Example.com, img.example.com:8080,[::1]:81,,") == {
        ("cdn.example.com", 80), ("cdn.example.com", 443), ("img.example.com", 8080), ("::1", 81),
    }
    assert allowed_hosts("") == allowed_hosts(None) == set()
    assert host_port("https://BBS.example.com/forum.php") == ("bbs.example.com", 443)
    assert host_port("http://127.0.0.1:8080/") == ("127.0.0.1", 8080)


class FakeNameService:
    """The reactor's name resolver, answering from a table."""

    def __init__(self, table: dict[str, list]):
        self.table = table

    def resolveHostName(self, receiver, hostName, portNumber=0, addressTypes=None, transportSemantics="TCP"):
        receiver.resolutionBegan(None)
        for address in self.table.get(hostName, []):
            receiver.addressResolved(address)
        receiver.resolutionComplete()
        return receiver


class Received:
    def __init__(self):
        self.addresses, self.complete = [], False

    def resolutionBegan(self, resolution):
        pass

    def addressResolved(self, address):
        self.addresses.append(address.host)

    def resolutionComplete(self):
        self.complete = True


def resolve(name: str, table: dict[str, list]) -> list[str]:
    reactor = type("Reactor", (), {"nameResolver": FakeNameService(table)})()
    received = Received()
    GuardedResolver(reactor, cache_size=0).resolveHostName(received, name, 80)
    assert received.complete
    return received.addresses


def test_a_public_name_that_resolves_to_a_private_address_is_refused_and_why_is_kept():
    v4, v6 = (lambda host: IPv4Address("TCP", host, 80)), (lambda host: IPv6Address("TCP", host, 80))
    table = {
        "rebind.example.com": [v4("10.0.0.5")],
        "metadata.example.com": [v4("169.254.169.254"), v6("fe80::1")],
        "dual.example.com": [v4("93.184.215.14"), v6("::1")],
        "intranet.example.com": [v4("192.168.1.20")],
        "127.0.0.1": [v4("127.0.0.1")],
    }
    assert resolve("rebind.example.com", table) == []
    assert GUARD.why_refused("rebind.example.com") == (
        "rebind.example.com resolves to 10.0.0.5, a private address: not requested (only a seed URL given by"
        " that address, or a host listed in ARCHIVE_ALLOWED_HOSTS, may be on one)"
    )
    assert resolve("metadata.example.com", table) == []
    assert "169.254.169.254, a link-local address" in GUARD.why_refused("metadata.example.com")
    # a name with a public address too keeps the public one only
    assert resolve("dual.example.com", table) == ["93.184.215.14"]
    assert GUARD.why_refused("dual.example.com") is None
    # what the user chose: a host they listed, an address given in a seed URL
    GUARD.choose("intranet.example.com", named=True)
    GUARD.choose("127.0.0.1")
    assert resolve("intranet.example.com", table) == ["192.168.1.20"]
    assert resolve("127.0.0.1", table) == ["127.0.0.1"]


# A name the crawl was given that resolves to 127.0.0.1 (planted in every process of the crawl)
FAKE_DNS = """
import socket
_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    return _getaddrinfo("127.0.0.1" if host == "forum.example.test" else host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
"""


def test_a_seed_whose_name_resolves_to_loopback_is_refused_unless_allowed(tmp_path, scrapy_crawl):
    requests = []

    def plan(target: str):
        requests.append(target)
        return None

    with HostileForum(plan) as forum:
        seed = forum.base_url.replace("127.0.0.1", "forum.example.test") + "thread-27-1-1.html"
        refused = crawl(scrapy_crawl, tmp_path / "refused.db", [seed], plant=FAKE_DNS)
        assert requests == []
        allowed = crawl(scrapy_crawl, tmp_path / "allowed.db", [seed], plant=FAKE_DNS, settings={"ARCHIVE_ALLOWED_HOSTS": "forum.example.test"})
    assert unexpected_tracebacks(refused.stderr) == [] and refused.returncode == 1  # nothing archived
    row = page_rows(Database(tmp_path / "refused.db"))["/thread-27-1-1.html"]
    assert (row["kind"], row["status"], row["tid"]) == ("private_address", 0, 27)
    assert row["error"].startswith("forum.example.test resolves to 127.0.0.1, a loopback address: not requested")
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert "/thread-27-1-1.html" in requests
    assert page_rows(Database(tmp_path / "allowed.db"))["/thread-27-1-1.html"]["kind"] == "thread"
