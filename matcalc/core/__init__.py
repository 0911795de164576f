"""The graph and its calculus: typed hash-consed nodes, constructors, the rule table, diff, naming.

The bottom layer: it imports nothing else of matcalc.
"""
