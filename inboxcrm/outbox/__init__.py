"""The outbox: the one road every outgoing email takes. This part holds what keeps mail from
people who said no (suppression, one-click unsubscribe) and what it learns back honestly
(open and click tracking, with machines told apart from people)."""
