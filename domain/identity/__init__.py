"""One identity for organisation names: parse a Chinese institution name, compare, decide."""
