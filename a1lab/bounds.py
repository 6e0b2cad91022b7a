"""What a value may be wherever it enters a1lab: one set of bounds for ingest and the live loop."""

MAX_ODDS = 10_000.0  # a decimal price (above 1)
MAX_STAT = 1_000.0  # a match statistic: shots, corners, cards (from 0)
MAX_GOALS = 999  # a side's score in any sport (from 0)
MAX_NAME = 200  # characters of a team's name
