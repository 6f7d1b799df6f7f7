"""A person asking to hear no more from us, in their own words (not in the part of our
mail they quote), in English, German, French, Spanish, Portuguese, Dutch or Italian. Pure."""

from __future__ import annotations

import re

from inboxcrm.signals.text import OWN_CHARS, own_text

PHRASES = re.compile(
    r"""\b(
      unsubscribe|remove\ me|take\ me\ off|stop\ (e-?mailing|emailing|sending|contacting|writing)
      | (do\ not|don'?t|dont)\ (e-?mail|contact|write\ to)\ me | no\ more\ e-?mails
      | remove\ (my|this)\ (e-?mail|address) | opt\ ?(-\ ?)?out | off\ (your|the)\ (mailing\ )?list
      | abmelden|austragen|abbestellen|entfernen\ sie\ mich|nehmen\ sie\ mich\ (aus|von)
      | keine\ (weiteren\ )?(e-?mails|nachrichten|mails)|l(ö|oe)schen\ sie\ meine
      | (dés|des)abonner|(dés|des)inscri(re|ption|vez)|retirez[- ]moi|supprimez[- ]moi
      | ne\ plus\ recevoir|arr(ê|e)tez\ de\ m['\u2019]?(envoyer|écrire|ecrire)|me\ retirer\ de
      | dar(me)?\ de\ baja|baja\ de\ (la|su|vuestra)\ lista|elim(í|i)n(a|e)me|eliminarme
      | quitar(me)?\ de|no\ me\ (env(í|i)en|manden|escriban)\ m(á|a)s
      | dejen\ de\ (enviarme|escribirme)
      | cancelar\ (la\ )?suscripci(ó|o)n|desuscribir
      | descadastr(ar|e)|cancelar\ (a\ )?inscri(ç|c)(ã|a)o|remov(a|er)[- ]?me|me\ remova
      | me\ tire\ da\ lista|n(ã|a)o\ quero\ (mais\ )?receber|parem\ de\ (enviar|me\ enviar)
      | afmelden|uitschrijven|verwijder\ (mij|me)|haal\ (mij|me)\ (van|uit)|geen\ e-?mails?\ meer
      | stop\ met\ (mailen|e-?mailen|sturen)
      | disiscriv(ere|etemi|ermi)|cancellami|rimuovetemi|rimuovermi|toglietemi
      | non\ voglio\ pi(ù|u)\ ricevere|smettete\ di\ (inviarmi|scrivermi)
    )\b""",
    re.VERBOSE,  # matched against lower-cased text: much faster than IGNORECASE
)


# A piece of text each of the `PHRASES` contains (tests hold every phrase to it). Most
# mail has none of them anywhere: it is then no request, found without reading for the
# quote or running the phrases (which cost more than the rest of a message's signals).
_HINTS = (
    "unsubscribe", "remov", "take me off", "stop ", "mail me", "contact me", "write to me",
    "no more e", "optout", "opt out", "opt-out", "opt- out", "opt -out", "opt - out",
    "off your", "off the", "abmelden", "austragen", "abbestellen", "entfernen sie mich",
    "nehmen sie mich", "keine weiteren", "keine e", "keine nachrichten", "keine mails",
    "schen sie meine", "abonner", "sinscri", "retirez", "supprimez", "ne plus recevoir",
    "tez de m", "me retirer de", "de baja", "baja de ", "elim", "quitar", "no me ",
    "dejen de ", "suscripci", "desuscribir", "descadastr", "cancelar", "me tire da lista",
    "o quero ", "parem de ", "afmelden", "uitschrijven", "verwijder ", "haal m", "geen e",
    "disiscriv", "cancellami", "rimuovetemi", "rimuovermi", "toglietemi", "non voglio pi",
    "smettete di ",
)  # fmt: skip
_ASK_CHARS = 4000  # a request to be removed is short, and comes first


def asks_to_unsubscribe(text: str) -> bool:
    """Whether the writer's own text (above any quote) asks to be taken off the list."""
    # The own text is lines of the text's first OWN_CHARS, and no phrase spans lines.
    window = text[:OWN_CHARS].lower()
    if not any(hint in window for hint in _HINTS):
        return False
    return PHRASES.search(own_text(text)[:_ASK_CHARS].lower()) is not None
