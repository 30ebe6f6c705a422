"""Where a webhook may go: the one URL parser and the address check (IP literals: no DNS)."""

import pytest

from app.errors import InvalidUpload
from app.services.webhooks.target import WebhookTarget, check_webhook_url, parse_webhook_url

_NOT_GLOBAL = [
    "http://100.100.100.200/latest/meta-data",  # shared address space (CGNAT), a cloud metadata address
    "http://100.64.0.1/",
    "http://192.0.0.8/",  # IETF protocol assignments
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
    "http://[::ffff:10.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:169.254.169.254]/",
    "http://[fec0::1]/",  # site-local
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[64:ff9b::c0a8:1]/",  # NAT64 of 192.168.0.1
    "http://[64:ff9b:1::1]/",  # local-use NAT64
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://127.0.0.1:8000/",
    "http://[::1]/",
    "http://10.1.2.3/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
]


@pytest.mark.parametrize("url", _NOT_GLOBAL)
def test_addresses_that_are_not_globally_routable_are_refused(url):
    with pytest.raises(InvalidUpload) as refused:
        check_webhook_url(url, allow_private=False)
    assert refused.value.field == "webhook_url"


@pytest.mark.parametrize("url", _NOT_GLOBAL)
def test_webhook_allow_private_lets_them_through(url):
    check_webhook_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/hook",
        "http://[2606:4700:4700::1111]:8443/x",
        "http://[2002:808:808::1]/",
        "http://[64:ff9b::808:808]/",
    ],
)
def test_global_addresses_pass(url):
    check_webhook_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/hook",  # unclosed bracket
        "http://hooks.example.com:99999/",
        "http://hooks.example.com:abc/",
        "http://hooks.example.com:/",
        "http://" + "a" * 64 + ".example.com/",  # a label over 63 characters
        "http://hooks..example.com/",
        "http://hooks.example.com./",
        "http://-hooks.example.com/",
        "http://8.8.8%2e8/",  # percent-encoded host
        "http://hooks%2eexample.com/",
        "http://[fe80::1%25eth0]/",
        "http://user:secret@8.8.8.8/",  # userinfo
        "http://8.8.8.8@127.0.0.1/",
        "http://8.8.8.8/a b",  # a raw space
        "http://8.8.8.8/\x00",
        "http://h\u00f6oks.example.com/",
        "http://[v1.x]/",
        "ftp://8.8.8.8/",
        "http:///path",
    ],
)
def test_malformed_urls_are_refused_naming_the_field(url):
    with pytest.raises(InvalidUpload) as refused:
        parse_webhook_url(url)
    assert refused.value.field == "webhook_url"
    with pytest.raises(InvalidUpload):
        check_webhook_url(url, allow_private=True)


def test_the_parser_reads_host_port_and_path_once_for_check_and_sender():
    assert parse_webhook_url("https://Hooks.Example.com/a/b?x=1#frag") == WebhookTarget(
        "https", "hooks.example.com", 443, "/a/b?x=1"
    )
    assert parse_webhook_url("http://[2606:4700::1]:8080") == WebhookTarget("http", "2606:4700::1", 8080, "/")
