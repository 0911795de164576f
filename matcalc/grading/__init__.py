"""Grading answers: is this derivative right, and if not, why.
"""
