"""`crm export --kind customers --format csv|xlsx --user NAME` (the import area keeps the code)."""

from crm.customers.transfer.cli import ExportCommand as Command

__all__ = ["Command"]
