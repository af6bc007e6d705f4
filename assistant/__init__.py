"""Question answering over a news archive with verbatim, cited quotes."""

__version__ = "0.1.0"
