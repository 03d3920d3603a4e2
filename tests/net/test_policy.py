"""The egress and listen policies as pure objects: pattern forms, first match,
and the name/address rule that stops a name from smuggling a denied address."""

from __future__ import annotations

import pytest

from agentvm_sidecar.kernel.errors import KernelError
from agentvm_sidecar.net import EgressPolicy, ListenPolicy


def policy(*rules: tuple[str, list[str], list[str]], default: str = "deny") -> EgressPolicy:
    return EgressPolicy.build(default, rules)


@pytest.mark.parametrize(
    "pattern",
    ["api.example.com", "API.example.com.", "*.example.com", "*", "tcp://api.example.com:443",
     "https://api.example.com/v1/models", "dns://api.example.com", "api.example.com:443"],
)
def test_host_and_uri_forms_of_a_rule_behave_the_same(pattern: str) -> None:
    p = policy(("allow", ["*"], [pattern]))
    assert p.allows("connect", "api.example.com", 443)
    assert p.allows("dns", "api.example.com", 443)


def test_a_wildcard_matches_subdomains_but_not_the_apex() -> None:
    p = policy(("allow", ["connect"], ["*.example.com"]))
    assert p.allows("connect", "a.b.example.com", 80)
    assert not p.allows("connect", "example.com", 80)
    assert not p.allows("connect", "badexample.com", 80)


def test_cidr_and_port_patterns() -> None:
    p = policy(("allow", ["connect"], ["10.0.0.0/8", "[::1]:8443", "192.168.1.1:22"]))
    assert p.allows("connect", "10.2.3.4", 1)
    assert not p.allows("connect", "11.0.0.1", 1)
    assert p.allows("connect", "::1", 8443) and not p.allows("connect", "::1", 8444)
    assert p.allows("connect", "192.168.1.1", 22) and not p.allows("connect", "192.168.1.1", 23)


def test_the_first_matching_rule_wins() -> None:
    p = policy(("deny", ["*"], ["bad.example.com"]), ("allow", ["*"], ["*.example.com"]))
    assert not p.allows("connect", "bad.example.com", 443)
    assert p.allows("connect", "good.example.com", 443)
    reversed_order = policy(("allow", ["*"], ["*.example.com"]), ("deny", ["*"], ["bad.example.com"]))
    assert reversed_order.allows("connect", "bad.example.com", 443)


def test_operations_restrict_a_rule() -> None:
    p = policy(("allow", ["dns"], ["api.example.com"]))
    assert p.allows("dns", "api.example.com")
    assert not p.allows("connect", "api.example.com", 443)


def test_a_name_cannot_smuggle_an_explicitly_denied_address_whatever_the_order() -> None:
    p = policy(("allow", ["*"], ["*.example.com"]), ("deny", ["*"], ["10.0.0.0/8"]))
    assert not p.allows_target("connect", "evil.example.com", "10.1.2.3", 443)
    assert p.allows_target("connect", "good.example.com", "93.184.216.34", 443)


def test_a_cidr_rule_admits_a_name_resolving_into_it() -> None:
    p = policy(("allow", ["connect"], ["127.0.0.0/8"]))
    assert p.allows_target("connect", "api.test", "127.0.0.1", 80)
    assert not p.allows_target("connect", "api.test", "10.0.0.1", 80)


def test_default_applies_when_nothing_matches() -> None:
    assert not policy().allows("connect", "anything", 1)
    assert policy(default="allow").allows_target("connect", "anything", "1.2.3.4", 1)


@pytest.mark.parametrize("pattern", ["", "a*b.com", "host:notaport", "host:70000", "[::1]x"])
def test_malformed_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(ValueError):
        policy(("allow", ["*"], [pattern]))


def test_listen_policy_range_and_privileged_ports() -> None:
    listen = ListenPolicy(port_min=80, port_max=9000)
    for port, allowed in ((80, False), (3000, True), (9001, False)):
        if allowed:
            listen.check(port)
        else:
            with pytest.raises(KernelError) as info:
                listen.check(port)
            assert info.value.errno == "EACCES"
    ListenPolicy(port_min=80, port_max=9000, allow_privileged=True).check(80)
