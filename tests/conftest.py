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


from helpers import LinearProbe, gen  # noqa: E402,F401  (re-exported for old imports)
