"""An IP allowlist must restrict something: a list that admits every IPv4 or every IPv6
address, however it is written, is refused (apitokens/allowlist.py), and so is an entry
wider than a /8 of IPv4 or a /16 of IPv6; the token policy does not count such a stored list
as an allowlist (apitokens/policy.py)."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apitokens import allowlist, policy, services
from apitokens.forms import TokenCreateForm
from apitokens.models import APIToken, TokenPolicy
from tests.apitokens.factories import create_token


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


# --- Forms and the token policy ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "code"),
    [("0.0.0.0/1\n128.0.0.0/1", "allows_every_address"), ("2000::/3", "too_wide")],
)
def test_a_policy_that_requires_an_allowlist_is_not_satisfied_by_one_that_allows_everyone(
    user, typed, code
):
    current = TokenPolicy.current()
    current.allowlist_required = True
    services.token_policy_save(policy=current, actor=None)
    data = {"name": "Warehouse sync job", "expiry": "90", "scopes": ["read"]}

    form = TokenCreateForm(data={**data, "allowed_ips": typed}, user=user)

    assert not form.is_valid()
    assert [error.code for error in form.errors.as_data()["allowed_ips"]] == [code]
    assert TokenCreateForm(data={**data, "allowed_ips": "203.0.113.0/24"}, user=user).is_valid()


@pytest.mark.django_db
def test_tokens_saved_with_a_list_that_restricts_nothing_break_a_policy_requiring_one(user):
    open_by_halves, _ = create_token(user, "Halves job", allowed_ips="0.0.0.0/1\n128.0.0.0/1")
    open_by_mapping, _ = create_token(user, "Mapped job", allowed_ips="0.0.0.0/0")
    restricted, _ = create_token(user, "Office job", allowed_ips="203.0.113.0/24")
    single, _ = create_token(user, "Single job", allowed_ips="203.0.113.7")
    required = TokenPolicy(allowlist_required=True)
    now = open_by_halves.created_at

    breaking = APIToken.objects.filter(policy.breach_condition(required, now))

    assert set(breaking) == {open_by_halves, open_by_mapping}
    assert policy.breach_reasons(open_by_halves, required, now) == [
        "has an IP allowlist that restricts nothing"
    ]
    assert policy.breach_reasons(restricted, required, now) == []
    assert policy.breach_reasons(single, required, now) == []
    assert not APIToken.objects.filter(policy.breach_condition(TokenPolicy(), now)).exists()


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
