"""Engagement signals: what mail says about a lead (a reply and its latency, an inquiry,
an out-of-office and its return date, a bounce typed hard or soft, a meeting accepted, a
request to unsubscribe). Pure detection over parsed and stored message facts; the sync
step (`steps.detect_signals`) stores them as Activities."""
