"""a1lab: a research lab for sports match forecasting and betting analysis."""

__version__ = "0.1.0"
