"""The checker: systematic and randomized exploration of interleavings (DESIGN.md §4).

Strategies, one module each, behind one small interface (`Target.execute(engine)` and a
`CheckResult`): `dpor` (source sets + sleep sets), `bounded` (preemption-bounded DFS, plain
DFS without a bound), `random_walk`, `pct` (probabilistic concurrency testing), and `replay`
of a token.  `minimize` shrinks a counterexample; `report` prints it for people.
"""
