"""The people file (roster): CSV/XLSX reading and writing, validation, and all-or-nothing import."""
