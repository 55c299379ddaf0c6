"""Helpers the tests import (`from helpers import gen`): a module of its own, since pytest loads every
`conftest.py` (tests/ and notebooks/) under the one module name `conftest`."""
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
