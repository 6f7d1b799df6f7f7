"""Blocklist patterns: IDN domains in IDNA 2008 form, so `straße.de` is not `strasse.de`."""

from __future__ import annotations

from inboxcrm.addresses import normalize_email
from inboxcrm.leads.blocklist import Blocklist, display_pattern, normalize_pattern


def test_an_idn_domain_is_blocked_in_idna_2008_form() -> None:
    # IDNA 2003 (Python's "idna" codec) would map ß to ss and block strasse.de instead.
    assert normalize_pattern("@Straße.de") == "@xn--strae-oqa.de"
    assert normalize_pattern("straße.de") == "@xn--strae-oqa.de"
    assert normalize_pattern("@xn--strae-oqa.de") == "@xn--strae-oqa.de"
    assert display_pattern("@xn--strae-oqa.de") == "@straße.de"


def test_a_blocked_idn_domain_blocks_its_own_addresses_only() -> None:
    blocklist = Blocklist.of([normalize_pattern("@straße.de")])
    assert blocklist.blocks(normalize_email("Ann@Straße.de"))
    assert blocklist.blocks(normalize_email("ann@xn--strae-oqa.de"))
    assert blocklist.blocks(normalize_email("ann@mail.straße.de"))  # a subdomain
    assert not blocklist.blocks(normalize_email("ann@strasse.de"))
    other = Blocklist.of([normalize_pattern("@strasse.de")])
    assert not other.blocks(normalize_email("ann@straße.de"))
