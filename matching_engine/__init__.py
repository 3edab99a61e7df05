"""Matching core: numba price-time books and call auctions, and the pure-Python reference book.

Imports nothing else of techboard. Layouts in dtypes.py, semantics in docs/matching.md.
"""
