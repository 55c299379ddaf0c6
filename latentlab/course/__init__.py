"""The course's own code, on top of the library: what only the notebooks and the lecturer use.

- `exercises`: the checks of the exercises at the end of notebooks 01-11 (`ex01` ... `ex11`).
- `plot`: the figures the notebooks show (image grids, the U-Net's layout, the method comparison).
- `figures`: every lecture's hero figures at slide resolution, `python -m latentlab.course.figures OUT_DIR`.
- `widget`: the interactive editor of notebook 08.

Nothing here is imported by `latentlab` itself, and nothing in `latentlab` imports from here
(`tests/test_layers.py` checks it). Import the modules by name:
`from latentlab.course import exercises as ex`, `from latentlab.course.plot import show_rows`.
"""
