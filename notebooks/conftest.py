# The .py files here are the notebooks' jupytext sources: nbval runs the paired .ipynb, and
# pytest must not import (and so execute) the sources as modules.
from helpers import one_thread_per_worker  # tests/helpers.py (on pytest's pythonpath)

collect_ignore_glob = ["*.py"]
one_thread_per_worker()  # the kernels nbval starts inherit this process's environment
