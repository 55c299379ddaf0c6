"""Checks for the exercises at the end of notebooks 01-11: each says what is right, or what is wrong
and a hint, in a sentence or two. `from latentlab.course import exercises as ex`, then
`ex.check_svd_by_hand(A, S, v1)`.

Every checker has the form `check_<idea>(<given data>, <answers>) -> Feedback` and never raises on a
student's answer: a blank (`None`), a wrong type, a wrong shape or a NaN all come back as a hint.
Reference answers are computed independently of the student's route: a dense SVD, a closed form
from the scheduler's `alphas_cumprod`, a direct call of the package or of diffusers. One module per
notebook (`ex01` ... `ex11`); `feedback` holds what they share.

>>> import torch
>>> check_kernel_direction(torch.tensor([[1.0, 0.0, 0.0]]), None).ok
False
>>> check_kernel_direction(torch.tensor([[1.0, 0.0, 0.0]]), [0.0, 1.0, 0.0])  # doctest: +ELLIPSIS
Right (01.3 a direction in the kernel): |J v| = 0.0e+00: a step along v changes nothing...
"""
from . import ex01, ex02, ex03, ex04, ex05, ex06, ex07, ex08, ex09, ex10, ex11
from .ex01 import *  # noqa: F401,F403  (each module's __all__ is its checkers)
from .ex02 import *  # noqa: F401,F403
from .ex03 import *  # noqa: F401,F403
from .ex04 import *  # noqa: F401,F403
from .ex05 import *  # noqa: F401,F403
from .ex06 import *  # noqa: F401,F403
from .ex07 import *  # noqa: F401,F403
from .ex08 import *  # noqa: F401,F403
from .ex09 import *  # noqa: F401,F403
from .ex10 import *  # noqa: F401,F403
from .ex11 import *  # noqa: F401,F403
from .feedback import Feedback

__all__ = ["Feedback"] + [name for m in (ex01, ex02, ex03, ex04, ex05, ex06, ex07, ex08, ex09, ex10, ex11)
                          for name in m.__all__]
