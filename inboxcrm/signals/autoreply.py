"""When someone away says they are back: the return date an out-of-office reply states.
Pure: the message's own date (or `now`) places a date given without a year.

Dates are read in English, German, French, Spanish, Portuguese, Dutch and Italian (`12
January`, `January 12th`, `5. Januar`, `1er janvier`, `7 de enero`), as d/m/Y numbers
(`12/01/2027`, `12.01.2027`, German `5.1.`) and ISO (`2027-01-12`). Of the dates found,
the one a "back"/"until" word leads to wins ("I will be back on", "bis einschließlich",
"de retour le", "hasta el", "até", "tot en met", "fino al" ...); with none, the latest
date (the end of a stated absence). A date before the message is no return date.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar jänner janner janvier janv enero ene janeiro januari gennaio genn",
        "february feb februar février fevrier févr fevr febrero fevereiro fev februari febbraio",
        "march mar märz marz mrz mars marzo março marco maart",
        "april apr avril avr abril abr aprile",
        "may mai mayo maio mei maggio mag",
        "june jun juni juin junio junho giugno giu",
        "july jul juli juillet juil julio julho luglio lug",
        "august aug août aout agosto ago augustus",
        "september sep sept septembre septiembre setiembre setembro settembre",
        "october oct oktober okt octobre octubre outubro oct ottobre ott",
        "november nov novembre noviembre novembro",
        "december dec dezember dez décembre decembre déc diciembre dic dezembro dicembre",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _number)

_MONTH = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_END = r"(?![a-zà-ÿ])"
_DATES = re.compile(
    rf"""
      (?P<iso>(?<!\d)(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})(?!\d))
    | (?P<num>(?<![\d.])(?P<nd>\d{{1,2}})[./-](?P<nm>\d{{1,2}})
        (?:[./-](?P<ny>\d{{4}}|\d{{2}})(?![\d])|\.(?!\d)))
    | (?P<dmy>(?<![\d.])(?P<dd>\d{{1,2}})(?:st|nd|rd|th|er|e|º|°|\.)?\s*(?:de\s+|of\s+|-)?
        (?P<dm>{_MONTH}){_END}\.?(?:,?\s*(?:de\s+)?(?P<dy>\d{{4}}))?)
    | (?P<mdy>(?<![a-zà-ÿ])(?P<mm>{_MONTH}){_END}\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?(?!\d)
        (?:,?\s*(?P<my>\d{{4}}))?)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Words that lead to the day someone is back (or the last day away), in the languages read.
_BACK = re.compile(
    r"""\b(back|return(ing|s)?|until|till|til|through|thru|up\ to\ and\ including|reachable\ again
      |available\ again|in\ the\ office\ (again\ )?(on|from)|resume
      |zurück|wieder|bis(\ einschlie(ß|ss)lich|\ zum|\ am)?
      |retour|jusqu['\u2019]?(au|à|a)|rentre(rai)?|reviens|reviendrai|disponible\ à\ partir
      |hasta|regres(o|aré|are)|volver(é|e)|vuelta|reincorpor(o|aré)
      |até|ate|volto|voltarei|retorn(o|arei)|de\ volta
      |tot(\ en\ met)?|t/m|terug|weer
      |fino\ al?|rientr(o|erò|ero)|ritorno|torner(ò|o)|di\ nuovo)\b""",
    re.IGNORECASE | re.VERBOSE,
)
_LEAD = 60  # characters a "back" word may stand before its date
_TRAIL = 40  # ... or after it ("ab 6. Januar wieder im Büro")


@dataclass(frozen=True, slots=True)
class AutoReply:
    return_date: dt.date | None


def _plain(text: str) -> str:
    # NFC, so that "ä" typed as a + combining diaeresis matches the month names.
    return unicodedata.normalize("NFC", text)


def _date(match: re.Match[str], today: dt.date) -> dt.date | None:
    g = match.group
    try:
        if g("iso"):
            return dt.date(int(g("iy")), int(g("im")), int(g("id")))
        if g("num"):
            day, month, year = int(g("nd")), int(g("nm")), g("ny")
            if year and month > 12 >= day:  # 1/12/2027 written the American way round
                day, month = month, day
            return _placed(day, month, year, today)
        if g("dmy"):
            return _placed(int(g("dd")), _MONTHS[g("dm").lower()], g("dy"), today)
        return _placed(int(g("md")), _MONTHS[g("mm").lower()], g("my"), today)
    except (ValueError, KeyError):
        return None


def _placed(day: int, month: int, year: str | None, today: dt.date) -> dt.date:
    if year:
        number = int(year)
        return dt.date(number + 2000 if number < 100 else number, month, day)
    when = dt.date(today.year, month, day)
    # A day already past this year is next year's (a December reply back "2 January").
    return when if when >= today - dt.timedelta(days=7) else dt.date(today.year + 1, month, day)


def return_date(text: str, today: dt.date) -> dt.date | None:
    """The day an out-of-office text says its writer is back (or last away), if it says."""
    text = _plain(text[:5000])
    best: tuple[int, int, dt.date] | None = None
    latest: dt.date | None = None
    for match in _DATES.finditer(text):
        when = _date(match, today)
        if when is None or when < today - dt.timedelta(days=1) or when.year > today.year + 2:
            continue
        latest = when if latest is None or when > latest else latest
        before = [
            m.end() for m in _BACK.finditer(text, max(0, match.start() - _LEAD), match.start())
        ]
        after = _BACK.search(text, match.end(), match.end() + _TRAIL)
        if before:
            score = match.start() - before[-1]
        elif after is not None:
            score = 100 + after.start() - match.end()
        else:
            continue
        if best is None or score < best[0]:
            best = (score, match.start(), when)
    return best[2] if best is not None else latest


def read_auto_reply(subject: str, text: str, sent: dt.date) -> AutoReply:
    """An auto-reply's facts: its return date, from the subject and the body's own text."""
    return AutoReply(return_date(f"{subject}\n{text}", sent))
