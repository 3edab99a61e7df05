"""Liquidity studies: scenarios over seeds, metrics, stylized facts, comparison and reports."""
