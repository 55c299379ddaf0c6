"""Helpers the tests import (`from helpers import gen`): a module of its own, since pytest loads every
`conftest.py` (tests/ and notebooks/) under the one module name `conftest`."""
import os

import pytest
import torch


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def hint(fb, *words: str) -> None:
    """An exercise checker said "not yet", with each of `words` in its hint."""
    from latentlab.course.exercises import Feedback

    assert isinstance(fb, Feedback) and not fb.ok, fb
    for w in words:
        assert w in fb.message, fb


def right(fb) -> None:
    """An exercise checker accepted the answer."""
    from latentlab.course.exercises import Feedback

    assert isinstance(fb, Feedback) and fb.ok, fb


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


#: Seconds a file takes under `make test` (two workers on two cores; measured, rounded): the order in which
#: the workers take files, longest first, so that the short ones fill the gaps at the end and both workers
#: finish together. Unlisted: a notebook 10 s, a test module or a module's doctests 1 s.
SECONDS = {
    "tests/test_browser.py": 55,
    "notebooks/labs/07_tensor_jacobian_hosvd_lab.ipynb": 43,
    "notebooks/09_real_checkpoints.ipynb": 38,
    "notebooks/labs/05_haas_directions_lab.ipynb": 38,
    "notebooks/05_haas_directions.ipynb": 36,
    "notebooks/labs/09_real_checkpoints_lab.ipynb": 35,
    "tests/test_session.py": 32,
    "notebooks/02_faces_model_and_ddim.ipynb": 30,
    "notebooks/labs/06_riemannian_pullback_lab.ipynb": 30,
    "notebooks/solutions/08_widget_editor_solutions.ipynb": 27,
    "notebooks/03_h_space.ipynb": 27,
    "notebooks/07_tensor_jacobian_hosvd.ipynb": 27,
    "notebooks/06_riemannian_pullback.ipynb": 26,
    "notebooks/solutions/03_h_space_solutions.ipynb": 26,
    "tests/test_make_lab.py": 25,
    "tests/test_real_checkpoints.py": 25,
    "notebooks/labs/02_faces_model_and_ddim_lab.ipynb": 24,
    "tests/test_asyrp.py": 23,
    "tests/test_scale.py": 22,
    "notebooks/labs/08_widget_editor_lab.ipynb": 18,
    "tests/test_slides.py": 17,
    "notebooks/11_after_the_papers.ipynb": 16,
    "tests/test_compare.py": 14,
    "notebooks/04_asyrp_editing.ipynb": 13,
    "notebooks/10_which_direction_method.ipynb": 13,
    "notebooks/solutions/04_asyrp_editing_solutions.ipynb": 13,
    "notebooks/labs/04_asyrp_editing_lab.ipynb": 12,
    "notebooks/08_widget_editor.ipynb": 12,
    "notebooks/01_pushforward_and_svd.ipynb": 12,
    "notebooks/solutions/02_faces_model_and_ddim_solutions.ipynb": 12,
    "tests/test_widget.py": 11,
    "notebooks/solutions/06_riemannian_pullback_solutions.ipynb": 11,
    "notebooks/labs/11_after_the_papers_lab.ipynb": 11,
    "notebooks/solutions/05_haas_directions_solutions.ipynb": 11,
    "tests/test_exercises_implement_01_05.py": 10,
    "tests/test_methods.py": 10,
    "tests/test_jacobians.py": 10,
    "tests/test_exercises.py": 9,
    "notebooks/labs/10_which_direction_method_lab.ipynb": 9,
    "notebooks/labs/01_pushforward_and_svd_lab.ipynb": 9,
    "tests/test_ddim.py": 9,
    "tests/test_loco.py": 9,
    "notebooks/solutions/11_after_the_papers_solutions.ipynb": 9,
    "notebooks/solutions/10_which_direction_method_solutions.ipynb": 8,
    "notebooks/solutions/09_real_checkpoints_solutions.ipynb": 8,
    "notebooks/solutions/01_pushforward_and_svd_solutions.ipynb": 7,
    "notebooks/labs/03_h_space_lab.ipynb": 7,
    "tests/test_exercises_implement_06_10.py": 7,
    "tests/test_slider.py": 7,
    "notebooks/solutions/07_tensor_jacobian_hosvd_solutions.ipynb": 6,
    "tests/test_course_local_edits.py": 4,
    "tests/test_course_direction_agreement.py": 4,
    "tests/test_course_comparison.py": 3,
    "tests/test_sae.py": 3,
}


def expected_seconds(item: pytest.Item) -> float:
    """How long `item`'s file takes under `make test` (`SECONDS`, else a default by kind)."""
    try:
        path = item.path.relative_to(item.config.rootpath).as_posix()
    except ValueError:  # a file outside the repository: a short one
        return 1.0
    return SECONDS.get(path, 10.0 if path.endswith(".ipynb") else 1.0)


def longest_first(items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the files longest first (`SECONDS`): with `--dist loadfile
    --no-loadscope-reorder`, the workers take files in this order, so the long ones start first and the
    short ones fill the gaps at the end. A stable sort: a file's tests, and a notebook's cells, stay in
    order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: -expected_seconds(item))
