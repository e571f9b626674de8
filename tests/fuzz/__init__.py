"""`make fuzz`: schemathesis against the hub's OpenAPI schema (run with `python -m tests.fuzz`).

The run itself is not collected by `make test` (it sends thousands of requests); only
`test_fuzz_tools.py`, which checks the run's own instruments in milliseconds, is.
"""
