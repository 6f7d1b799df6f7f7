"""Scores that act: workspace rules run where scores change (a stage move when a score
reaches a line, a notice when a lead turns hot), and what the signals' news sets off (a
new inbound lead left waiting, a lead asking to stop receiving email)."""
