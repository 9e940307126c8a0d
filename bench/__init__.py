"""`make bench`: each hot path of Bitstride measured beside the ceiling it cannot beat.

One module per pair (write_path, read_path, projections, gateway, job_load, validation); the
runner (`python -m bench`) starts the services, runs the pairs and writes BENCHMARKS.md.
Figures are relative by design: the same machine, the same moment, the same load generator.
"""
