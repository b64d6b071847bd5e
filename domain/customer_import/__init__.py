"""`actionflow import customers FILE`: read CSV/XLSX (:mod:`.files`), validate every row
(:mod:`.plan`), then import all or nothing (:mod:`.apply`)."""

from domain.customer_import.apply import apply
from domain.customer_import.files import ImportFileError, read_table
from domain.customer_import.plan import (
    CustomerRow,
    ImportPlan,
    Options,
    OwnerDirectory,
    Problem,
    parse_day,
    plan,
)

__all__ = [
    "CustomerRow",
    "ImportFileError",
    "ImportPlan",
    "Options",
    "OwnerDirectory",
    "Problem",
    "apply",
    "parse_day",
    "plan",
    "read_table",
]
