"""The outbox: the one road every outgoing email takes. Every email is a Send row, sent
exactly once or skipped or failed with the reason why (docs/architecture.md, "Sending
exactly once"); suppression and one-click unsubscribe keep mail from people who said no,
and open and click tracking learns back honestly (machines told apart from people)."""
