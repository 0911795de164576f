"""Rewrites that make results read like the textbook: chains, transposes, the elementwise pass.
"""
