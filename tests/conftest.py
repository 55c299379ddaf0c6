import pytest
import torch

torch.use_deterministic_algorithms(True)


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
