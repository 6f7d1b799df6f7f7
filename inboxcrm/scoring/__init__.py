"""Lead scores a rep can read: rules award points for engagement and fit, each award
keeps its reason, points fade with a half-life, and temperature follows score and
recency. The rules, awards, score and temperature here are pure: `now` and data in."""
