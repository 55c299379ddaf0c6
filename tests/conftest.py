import pytest
import torch

torch.use_deterministic_algorithms(True)
# Tests use tiny models: one thread is fastest (thread start-up dominates) and keeps runs repeatable.
torch.set_num_threads(1)


@pytest.fixture
def model():
    import latentlab as ll

    return ll.tiny_model()


@pytest.fixture
def cond_model():
    import latentlab as ll

    return ll.tiny_model(conditional=True)


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
