"""The ``actionflow`` command line."""
