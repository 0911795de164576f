"""Derivations as results: ``Derivation`` and ``Hessian``, built and verified before they are returned.
"""
