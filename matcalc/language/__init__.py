"""The input language: syntax tree, matcalc's own parser, shape inference, typed programs.
"""
