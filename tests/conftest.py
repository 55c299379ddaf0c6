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
