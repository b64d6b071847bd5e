"""For test kits that run only a few feature modules with the shipped forms file: the feature field
types that file names, without the features' commands, completers or approval handler.

The forms file is checked against the registry the bot runs with, so a kit without these types could
not load it. Put this module last in the kit's modules: a type a listed feature registers is kept.
"""

from __future__ import annotations

from handlers.customer_field import CustomerField
from handlers.customers import CustomerNameField
from handlers.forms.fields import FieldType
from handlers.key_persons import KeyPersonsMetField
from handlers.org.person_field import PersonField
from handlers.registry import Registry
from handlers.trial import ProductCodeField
from handlers.visits import VisitCustomerField

SHIPPED: dict[str, type[FieldType]] = {
    "customer": CustomerField,
    "customer_name": CustomerNameField,
    "visit_customer": VisitCustomerField,
    "product_code": ProductCodeField,
    "person": PersonField,
    "key_persons_met": KeyPersonsMetField,
}


def setup(registry: Registry) -> None:
    for name, field_type in SHIPPED.items():
        if name not in registry.field_types:
            registry.field_type(name, field_type())
