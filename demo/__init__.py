"""Demo department systems: deterministic synthetic data for sixteen department systems.

`demo.generate.ensure_demo_data` writes the department stores; `demo.launch.DemoServices`
runs the seven HTTP departments as child processes. See demo/DEPARTMENTS.md.
"""
