"""`python -m infra.reference.trainer JOB_FILE`: train the reference model (see loop.py)."""

import os
import sys

# One BLAS thread, set before numpy loads: for matrices this small, threads cost more than they
# give, and they would compete with the other jobs on the machine.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

from infra.reference.trainer.loop import main  # noqa: E402 - after the thread settings

sys.exit(main(sys.argv[1:]))
