import pytest
from hypothesis import given
from hypothesis import strategies as st

from apitokens.webhooks.addresses import UnsafeWebhookURL, webhook_url_check


def public(host, port):
    return ["93.184.216.34"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://[::1]/hooks", "loopback"),
        ("https://[::ffff:127.0.0.1]/hooks", "loopback"),
        ("https://[::ffff:10.0.0.5]/hooks", "private"),
        ("https://[64:ff9b::7f00:1]/hooks", "loopback"),
        ("https://10.1.2.3/hooks", "private"),
        ("https://192.168.1.1/hooks", "private"),
        ("https://172.16.0.1/hooks", "private"),
        ("https://169.254.10.1/hooks", "link-local"),
        ("https://[fe80::1]/hooks", "link-local"),
        ("https://[fd12:3456::1]/hooks", "private"),
        ("https://224.0.0.1/hooks", "multicast"),
        ("https://[ff02::1]/hooks", "multicast"),
        ("https://240.0.0.1/hooks", "reserved"),
        ("https://0.0.0.0/hooks", "unspecified"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("https://[::ffff:169.254.169.254]/", "metadata"),
    ],
)
def test_non_public_addresses_are_refused(url, reason):
    with pytest.raises(UnsafeWebhookURL, match=reason):
        webhook_url_check(url, resolve=public, allow_private=False)


def test_a_name_that_resolves_to_any_private_address_is_refused():
    with pytest.raises(UnsafeWebhookURL, match="private"):
        webhook_url_check(
            "https://hooks.example.com/x",
            resolve=lambda host, port: ["93.184.216.34", "10.0.0.1"],
            allow_private=False,
        )


def test_a_public_https_url_is_accepted_with_the_address_to_connect_to():
    target = webhook_url_check(
        "https://hooks.example.com:8443/in?x=1", resolve=public, allow_private=False
    )
    assert (target.host, target.port, target.address, target.path) == (
        "hooks.example.com",
        8443,
        "93.184.216.34",
        "/in?x=1",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "https://"),
        ("ftp://hooks.example.com/x", "https://"),
        ("https://user:secret@hooks.example.com/x", "user name"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com/\x00", "control"),
        ("https://hooks.example.com/\u202e", "control"),
        ("https:///x", "valid URL"),
        ("https://[::1/x", "valid URL"),
        ("https://" + "a" * 2100 + ".com/", "too long"),
        ("", "Enter"),
    ],
)
def test_malformed_urls_are_refused_with_a_message(url, message):
    with pytest.raises(UnsafeWebhookURL, match=message):
        webhook_url_check(url, resolve=public, allow_private=False)


def test_a_host_that_does_not_resolve_is_refused():
    def nowhere(host, port):
        raise OSError("no such host")

    with pytest.raises(UnsafeWebhookURL, match="could not be resolved"):
        webhook_url_check("https://nowhere.invalid/", resolve=nowhere, allow_private=False)


def test_an_internationalised_host_is_resolved_in_its_ascii_form():
    asked = []
    webhook_url_check(
        "https://ex\u0430mple.com/",  # a Cyrillic "а"
        resolve=lambda host, port: asked.append(host) or ["93.184.216.34"],
        allow_private=False,
    )
    assert asked == ["xn--exmple-4nf.com"]


def test_allowing_private_receivers_admits_loopback_over_http_but_never_metadata():
    target = webhook_url_check("http://127.0.0.1:8001/hooks", allow_private=True)
    assert target.address == "127.0.0.1"
    with pytest.raises(UnsafeWebhookURL, match="metadata"):
        webhook_url_check("http://169.254.169.254/", allow_private=True)


@given(st.text(max_size=300))
def test_any_text_is_either_a_target_or_a_refusal(text):
    try:
        webhook_url_check(text, resolve=public, allow_private=False)
    except UnsafeWebhookURL as refusal:
        assert str(refusal)
