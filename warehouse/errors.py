"""Warehouse errors: a flat list of small classes."""


class WarehouseError(Exception):
    """Base class of the warehouse's errors."""


class CorruptPartError(WarehouseError):
    """A part file of the tenant cannot be read; ``paths`` names each bad file."""

    def __init__(self, tenant: str, paths: list[str]):
        self.tenant, self.paths = tenant, paths
        super().__init__(f"tenant {tenant!r}: unreadable part file(s): {', '.join(paths)} "
                         "(run `python -m warehouse verify` and see docs/operations.md)")


class LakeNotConverted(WarehouseError):
    """The lake holds plain part files (written before the Delta log) and could not be converted."""


class QueryError(WarehouseError):
    """A query failed for a reason other than an unreadable file; the message is DuckDB's."""
