"""What can go wrong with a store, as the service tells its users."""
from __future__ import annotations


class StoreError(Exception):
    """A store call failed."""


class StoreUnavailable(StoreError):
    """The store could not be reached, or failed on its side (a 5xx, its own time limit, a
    dropped connection): the request gets a 503 naming the store."""


class StoreIncomplete(StoreUnavailable):
    """The store answered, but said that the answer is partial (Virtuoso's "anytime" results
    after its own time limit): never passed off as complete."""


class StoreCancelled(StoreUnavailable):
    """The front end stopped the call (its client left, or its deadline passed) by closing the
    connection to the store; the worker that made it is kept."""


class StoreRefused(StoreError):
    """The store refused the operation as invalid (a 4xx): the request gets a 400."""


class ReadOnlyStore(StoreError):
    """A write through the service to a store that only builds write to."""


class ExtensionRefused(StoreError):
    """A query names the remote store's own (non-standard) functions: refused (403) before it
    reaches the store."""
