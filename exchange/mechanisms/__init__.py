"""Trading mechanisms: the registry, market making with its obligations, negotiated transfer.

Importing the package registers the desk mechanisms (each module registers its own), so the
venue finds them in exchange.mechanisms.registry by name without importing their modules.
"""

from exchange.mechanisms import market_maker, negotiated  # noqa: F401  (they register)
