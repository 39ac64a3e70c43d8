"""The timed contention simulator (DESIGN.md §5): engine, cost table, statistics, runs."""
