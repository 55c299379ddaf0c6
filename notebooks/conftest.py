# The .py files here are the notebooks' jupytext sources: nbval runs the paired .ipynb, and
# pytest must not import (and so execute) the sources as modules.
collect_ignore_glob = ["*.py"]
