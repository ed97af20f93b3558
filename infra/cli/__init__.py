"""`rampart`: the command line, one module per command group. The top of the import graph:
it may import every other package and nothing imports it. Heavy modules (the model, Pulumi,
hvac) are imported by the command that runs, never at start-up
(tests/unit/test_cli_imports.py).
"""
