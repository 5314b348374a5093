"""IP allowlists (apitokens/allowlist.py): parsing what a user typed and the per-request check; a
list must restrict something, however it is written."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apitokens import allowlist


@pytest.mark.usefixtures("_unbuffered_activity")
# --- Parsing --------------------------------------------------------------------------------


def test_entries_are_normalised_deduplicated_and_kept_in_order():
    typed = " 203.0.113.7, 2001:DB8:0:0::/48\n198.51.100.0/24 ; 203.0.113.7/32  10.0.0.1 "
    assert allowlist.allowlist_normalize(typed) == (
        "203.0.113.7\n2001:db8::/48\n198.51.100.0/24\n10.0.0.1"
    )


@pytest.mark.usefixtures("_unbuffered_activity")
def test_empty_list_is_stored_empty_and_allows_any_address():
    assert allowlist.allowlist_normalize("  \n ") == ""
    assert allowlist.address_allowed("", "203.0.113.7")
    assert allowlist.address_allowed("", None)


@pytest.mark.usefixtures("_unbuffered_activity")
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("10.0.0.300", "is not an IPv4 or IPv6 address or CIDR range"),
        ("example.com", "is not an IPv4 or IPv6 address or CIDR range"),
        ("10.0.0.5/24", "did you mean 10.0.0.0/24?"),
        ("2001:db8::1/32", "did you mean 2001:db8::/32?"),
        ("0.0.0.0/0", "allows every address"),
        ("::/0", "allows every address"),
        ("fe80::1%eth0", "zone index"),
    ],
)
def test_bad_entries_are_refused_with_a_message_naming_them(typed, message):
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize(f"203.0.113.7 {typed}")
    assert len(caught.value.messages) == 1
    assert message in caught.value.messages[0]


@pytest.mark.usefixtures("_unbuffered_activity")
def test_every_bad_entry_is_named_at_once():
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize("nope 10.0.0.1 also-nope")
    assert len(caught.value.messages) == 2


@pytest.mark.usefixtures("_unbuffered_activity")
def test_at_most_twenty_entries():
    twenty = " ".join(f"10.0.0.{n}" for n in range(1, 21))
    assert len(allowlist.allowlist_normalize(twenty).split()) == 20
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize(twenty + " 10.0.0.21")
    assert "At most 20" in caught.value.messages[0]


@pytest.mark.usefixtures("_unbuffered_activity")
def test_cidr_boundaries_ipv4():
    stored = allowlist.allowlist_normalize("198.51.100.0/24")
    assert allowlist.address_allowed(stored, "198.51.100.0")
    assert allowlist.address_allowed(stored, "198.51.100.255")
    assert not allowlist.address_allowed(stored, "198.51.101.0")
    assert not allowlist.address_allowed(stored, "198.51.99.255")


@pytest.mark.usefixtures("_unbuffered_activity")
def test_ipv6_ranges_and_addresses():
    stored = allowlist.allowlist_normalize("2001:db8:abcd::/48 2001:db8::7")
    assert allowlist.address_allowed(stored, "2001:db8:abcd:ffff::1")
    assert allowlist.address_allowed(stored, "2001:db8::7")
    assert not allowlist.address_allowed(stored, "2001:db8:abce::1")
    assert not allowlist.address_allowed(stored, "2001:db8::8")
    assert not allowlist.address_allowed(stored, "203.0.113.7")  # another family


@pytest.mark.usefixtures("_unbuffered_activity")
def test_ipv4_mapped_addresses_match_their_ipv4_entry():
    stored = allowlist.allowlist_normalize("203.0.113.0/24")
    assert allowlist.address_allowed(stored, "::ffff:203.0.113.9")
    assert allowlist.allowlist_normalize("::ffff:203.0.113.9") == "203.0.113.9"


@pytest.mark.usefixtures("_unbuffered_activity")
def test_unknown_or_unreadable_client_address_is_refused():
    stored = allowlist.allowlist_normalize("203.0.113.7")
    assert not allowlist.address_allowed(stored, None)
    assert not allowlist.address_allowed(stored, "not an ip")


def refusal_codes(typed: str) -> list[str]:
    try:
        allowlist.allowlist_normalize(typed)
    except allowlist.AllowlistError as error:
        return error.codes
    return []


@pytest.mark.parametrize(
    "typed",
    [
        "::ffff:0:0/96",  # was stored as 0.0.0.0/0
        "::FFFF:0:0/96",
        "0:0:0:0:0:ffff:0:0/96",
        "0.0.0.0/1 128.0.0.0/1",
        "128.0.0.0/1, 0.0.0.0/1, 203.0.113.7",
        "0.0.0.0/2 64.0.0.0/2 128.0.0.0/2 192.0.0.0/2",
        "::ffff:0:0/97 ::ffff:128.0.0.0/97",  # IPv4-mapped halves
        "::FFFF:0:0/97 128.0.0.0/1",  # one half mapped, one plain
        "64:ff9b::/96",  # NAT64: every IPv4 client behind the gateway
        "64:ff9b::/97 128.0.0.0/1",
        "64:ff9b::/64",
        "::/1 8000::/1",
        "::/2 4000::/2 8000::/1",
        "2001:db8::1 ::/1 8000::/1 10.0.0.1",
    ],
)
def test_a_list_that_allows_every_address_is_refused(typed):
    assert refusal_codes(typed) == ["allows_every_address"]


def test_the_message_names_the_entries_and_says_why():
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize("0.0.0.0/1 2001:db8::/32 128.0.0.0/1")

    assert caught.value.messages == [
        "“0.0.0.0/1”, “128.0.0.0/1” together allow every IPv4 address, so the list would "
        "restrict nothing. Leave it empty instead, or list only your own addresses or ranges."
    ]


def test_the_message_says_when_ipv6_spellings_count_as_ipv4():
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize("64:ff9b::/96")

    assert "“64:ff9b::/96” allows every IPv4 address" in caught.value.messages[0]
    assert "NAT64" in caught.value.messages[0]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0.0.0.0/1", "“0.0.0.0/1” is wider than a /8 of IPv4"),
        ("10.0.0.0/7", "“10.0.0.0/7” is wider than a /8 of IPv4"),
        ("::ffff:0:0/97", "“0.0.0.0/1” is wider than a /8 of IPv4"),
        ("64:ff9b::/97", "“64:ff9b::/97” (the IPv4 addresses 0.0.0.0/1) is wider than a /8"),
        ("2000::/3", "“2000::/3” is wider than a /16"),
        ("2000::/15", "“2000::/15” is wider than a /16"),
    ],
)
def test_an_entry_wider_than_a_slash_8_or_slash_16_is_refused(typed, message):
    with pytest.raises(allowlist.AllowlistError) as caught:
        allowlist.allowlist_normalize(f"203.0.113.7 {typed}")

    assert caught.value.codes == ["too_wide"]
    assert message in caught.value.messages[0]


@pytest.mark.parametrize(
    "typed",
    [
        "10.0.0.0/8",
        "2001::/16",
        "2001:db8::/32 203.0.113.0/24",
        "64:ff9b::cb00:7100/120",  # one NAT64 range: 203.0.113.0/24
        "::ffff:203.0.113.0/120",
        "0.0.0.0/8 1.0.0.0/8 2.0.0.0/8",
    ],
)
def test_ranges_of_ordinary_width_are_kept(typed):
    assert refusal_codes(typed) == []


def test_stored_lists_that_restrict_nothing_are_recognised():
    assert allowlist.allowlist_unrestricted("0.0.0.0/0")
    assert allowlist.allowlist_unrestricted("0.0.0.0/1\n128.0.0.0/1")
    assert allowlist.allowlist_unrestricted("2000::/3")
    assert allowlist.allowlist_unrestricted("203.0.113.7\n::/0")
    assert not allowlist.allowlist_unrestricted("")
    assert not allowlist.allowlist_unrestricted("203.0.113.7\n2001:db8::/32")


# --- Property: covering a whole family is refused, and only that ------------------------------


def _partition(version: int, seed: int, leaves: int) -> list[IPNetworkT]:
    """Networks that split the whole IPv`version` space into `leaves` pieces (random halves)."""
    chooser = random.Random(seed)
    pieces = [ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0")]
    while len(pieces) < leaves:
        splittable = [piece for piece in pieces if piece.prefixlen < 24]
        piece = chooser.choice(splittable)
        pieces.remove(piece)
        pieces.extend(piece.subnets())
    chooser.shuffle(pieces)
    return pieces


IPNetworkT = ipaddress.IPv4Network | ipaddress.IPv6Network


IPV4_SPELLINGS = [ipaddress.ip_network("::ffff:0:0/96"), ipaddress.ip_network("64:ff9b::/96")]


def _spelled(network: IPNetworkT, spelling: int) -> str:
    """An IPv4 network as typed: plain, IPv4-mapped or IPv4-mapped in capitals."""
    if network.version == 6 or spelling == 0:
        return str(network)
    mapped = f"::ffff:{network.network_address}/{network.prefixlen + 96}"
    return mapped.upper() if spelling == 2 else mapped


covering_lists = st.builds(
    lambda version, seed, leaves, spellings: [
        _spelled(network, spellings[index % len(spellings)])
        for index, network in enumerate(_partition(version, seed, leaves))
    ],
    st.sampled_from([4, 6]),
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=2, max_value=allowlist.MAX_ENTRIES),
    st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=3),
)


@given(covering_lists)
def test_any_list_covering_a_whole_family_is_refused_for_that(entries):
    assert "allows_every_address" in refusal_codes(" ".join(entries))


@given(
    st.sampled_from([4, 6]),
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=2, max_value=allowlist.MAX_ENTRIES + 1),
    st.data(),
)
def test_a_list_with_any_hole_is_not_refused_as_allowing_everything(version, seed, leaves, data):
    """Drop one piece of a partition (for IPv6 also any piece holding all of an IPv4
    spelling, ::ffff:0:0/96 or 64:ff9b::/96, which would admit every IPv4 client)."""
    pieces = _partition(version, seed, leaves)
    hole = data.draw(st.sampled_from(pieces))
    if version == 6 and ipaddress.ip_network("::ffff:0:0/96").subnet_of(hole):
        return  # IPv4-mapped clients are matched as IPv4: that hole admits no IPv6 client
    entries = [
        str(piece)
        for piece in pieces
        if piece != hole
        and not (piece.version == 6 and any(p.subnet_of(piece) for p in IPV4_SPELLINGS))
    ]
    assert "allows_every_address" not in refusal_codes(" ".join(entries))
