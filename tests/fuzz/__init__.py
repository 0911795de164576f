"""Differential fuzzing of matcalc: random well-typed programs (generator), an independent NumPy
evaluator (evaluator), the oracle over every public face (oracle), a delta-debugging shrinker
(shrink) and the driver (run)."""
