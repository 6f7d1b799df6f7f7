from __future__ import annotations

import pytest

from inboxcrm.addresses import (
    ascii_domain,
    company_domain,
    domain_key,
    normalize_email,
    registrable_domain,
    unicode_domain,
)
from inboxcrm.errors import Invalid


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("  Ann.Smith@Example.COM ", "ann.smith@example.com"),
        ("ann+deals@example.com", "ann+deals@example.com"),
        ("josé@bücher.de", "josé@bücher.de"),
    ],
)
def test_addresses_are_normalized(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize("raw", ["", "no-at-sign", "a@", "@b.com", "a b@c.com", "a@b..com"])
def test_malformed_addresses_are_refused_with_the_reason(raw: str) -> None:
    with pytest.raises(Invalid, match="invalid email address"):
        normalize_email(raw)


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("ann@mail.acme.co.uk", "acme.co.uk"),
        ("acme.com", "acme.com"),
        ("x@sales.eu.acme.com", "acme.com"),
        ("co.uk", None),
        ("x@bücher.de", "xn--bcher-kva.de"),
        ("x@foo.github.io", "foo.github.io"),
    ],
)
def test_registrable_domain_uses_the_public_suffix_list(value: str, domain: str | None) -> None:
    assert registrable_domain(value) == domain


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("Ann@Straße.de", "xn--strae-oqa.de"),  # IDNA 2008: not strasse.de
        ("@Mail.Bücher.DE.", "mail.xn--bcher-kva.de"),
        ("ann@ACME.com", "acme.com"),
        ("x@xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("bad..domain", "bad..domain"),  # refused by IDNA: compared as written, lower case
    ],
)
def test_domain_key_is_the_ascii_domain_of_an_address_or_domain(value: str, key: str) -> None:
    assert domain_key(value) == key


@pytest.mark.parametrize("domain", ["bücher.de", "straße.de", "例え.テスト", "acme.com"])
def test_unicode_domain_undoes_ascii_domain(domain: str) -> None:
    assert unicode_domain(ascii_domain(domain) or "") == domain


def test_unicode_domain_leaves_what_it_cannot_decode() -> None:
    assert unicode_domain("xn--zz.xn--bcher-kva.de") == "xn--zz.bücher.de"
    assert unicode_domain("acme_robotics.com") == "acme_robotics.com"


def test_free_mail_has_no_company() -> None:
    assert company_domain("someone@gmail.com") is None
    assert company_domain("someone@eu.acme.com") == "acme.com"


def test_the_fast_path_agrees_with_email_validator() -> None:
    """normalize_email skips email_validator for everyday addresses; it must change nothing."""
    import random

    from email_validator import EmailNotValidError, validate_email

    from inboxcrm.addresses import _plain

    rng = random.Random(5)
    pieces = ["ann", "Lee", "o'brien", "a+tag", "x", "-", "--", ".", "..", "_", "9", "é", "xn--"]
    domains = ["acme.com", "Mail.ACME.co.uk", "a-b.io", "b--c.com", "x.test", "y.local", "1.2",
               "bücher.de", "xn--bcher-kva.de", "-bad.com", "ok-.com", "a.b", "a." + "b" * 64,
               "localhost", "x.onion", "c.example", "shop.museum", "q.xn--p1ai"]  # fmt: skip
    tried = agreed = 0
    for _ in range(5000):
        local = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
        address = f"{local}@{rng.choice(domains)}"
        fast = _plain(address)
        if fast is None:
            continue
        tried += 1
        try:
            slow = validate_email(address, check_deliverability=False, allow_smtputf8=True)
        except EmailNotValidError as exc:
            raise AssertionError(f"{address}: accepted by the fast path only") from exc
        assert fast == slow.normalized.lower(), address
        agreed += 1
    assert tried == agreed > 300
