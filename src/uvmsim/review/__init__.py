"""`uvmsim review`: the seed thread's questions R1-R9 answered with computed evidence."""
