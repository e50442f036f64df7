"""`crm import FILE --kind customers|contacts|orders` (the import area keeps the code)."""

from crm.customers.transfer.cli import ImportCommand as Command

__all__ = ["Command"]
