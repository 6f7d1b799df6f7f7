from __future__ import annotations

import pytest

from inboxcrm.errors import Invalid
from inboxcrm.leads.addresses import company_domain, normalize_email, registrable_domain


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


def test_free_mail_has_no_company() -> None:
    assert company_domain("someone@gmail.com") is None
    assert company_domain("someone@eu.acme.com") == "acme.com"
