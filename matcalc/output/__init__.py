"""Printers (Unicode, LaTeX, round-trippable text), chain-rule steps, pictures, SymPy forms.
"""
