"""Helpers the tests import (`from helpers import gen`): a module of its own, since pytest loads every
`conftest.py` (tests/ and notebooks/) under the one module name `conftest`."""
import os

import pytest
import torch


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class LinearProbe(torch.nn.Module):
    """A stand-in probe with known answers: every attribute a fixed linear function of the pixels
    (glasses through a sigmoid), so changes are exactly linear in pixel edits and gradients never vanish."""

    def __init__(self, seed: int = 0, size: int = 32):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(11, 3 * size * size, generator=gen(seed)) / 3 / size)

    def forward(self, images):
        import latentlab as ll

        z = images.flatten(1) @ self.w.T
        return {k: (torch.sigmoid(z[:, j]) if k == "glasses" else z[:, j]) for j, k in enumerate(ll.ATTRIBUTES)}


def one_thread_per_worker() -> None:
    """Under pytest-xdist (`make test`: one worker per core), one thread for each worker and for what it
    starts (notebook kernels, subprocesses), so that the workers do not fight over the cores."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
        torch.set_num_threads(1)



def longest_first(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the browser tests (about a minute each), then the notebooks (5-65 s each), then
    the rest: the long files start first and the short ones fill the gaps at the end (with
    `--no-loadscope-reorder`, workers take files in this order). A stable sort: a notebook's cells stay
    in order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        def rank(item: pytest.Item) -> int:
            return 0 if item.get_closest_marker("browser") else 1 if item.path.suffix == ".ipynb" else 2

        items.sort(key=rank)
