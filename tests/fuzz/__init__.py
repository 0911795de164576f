"""Differential fuzzing of matcalc (issue 10, item 8).

generator  random well-typed v1 programs built by shape (seeded: example i of seed s is fixed)
evaluator  an independent NumPy evaluator of those programs, and the kink-aware point sampler
oracle     numpy / text / codegen / check against central differences; outcome classification
shrink     greedy delta-debugging to a minimal failing program
names      ASCII renaming (to look past naming bugs)
run        ``python tests/fuzz/run.py --count 5000 --seed 0 [--shrink] [--plain-names]``
"""
