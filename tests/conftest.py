import pytest
import torch

from helpers import longest_first, one_thread_per_worker

torch.use_deterministic_algorithms(True)
# Tests use tiny models: one thread is fastest (thread start-up dominates) and keeps runs repeatable.
torch.set_num_threads(1)
one_thread_per_worker()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    longest_first(items)


@pytest.fixture
def model():
    import latentlab as ll

    return ll.tiny_model()


@pytest.fixture
def cond_model():
    import latentlab as ll

    return ll.tiny_model(conditional=True)


@pytest.fixture(scope="module")
def tiny():
    """A 32 px tiny U-Net, shared by a module's tests (the edit session's and the widget's)."""
    import latentlab as ll
    return ll.tiny_model(sample_size=32)


@pytest.fixture(scope="module")
def bench(tiny):
    """The registry's workbench on `tiny`, 4 DDIM steps, read by a linear probe."""
    from latentlab.methods import Workbench

    from helpers import LinearProbe
    return Workbench(tiny, probe=LinearProbe(), steps=4, seed=0)
