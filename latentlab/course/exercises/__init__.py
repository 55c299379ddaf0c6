"""Checks for the exercises at the end of notebooks 01-10: each says what is right, or what is wrong
and a hint, in a sentence or two. `from latentlab.course import exercises as ex`, then
`ex.check_svd_by_hand(A, S, v1)`.

Every checker has the form `check_<idea>(<given data>, <answers>) -> Feedback` and never raises on a
student's answer: a blank (`None`), a wrong type, a wrong shape or a NaN all come back as a hint.
Reference answers are computed independently of the student's route: a dense SVD, a closed form
from the scheduler's `alphas_cumprod`, a direct call of the package or of diffusers. One module per
notebook (`ex01` ... `ex10`); `feedback` holds what they share.

>>> import torch
>>> check_kernel_direction(torch.tensor([[1.0, 0.0, 0.0]]), None).ok
False
>>> check_kernel_direction(torch.tensor([[1.0, 0.0, 0.0]]), [0.0, 1.0, 0.0])  # doctest: +ELLIPSIS
Right (01.3 a direction in the kernel): |J v| = 0.0e+00: a step along v changes nothing...
"""
from .ex01 import check_kernel_direction, check_svd_by_hand, check_topk_svd
from .ex02 import check_ddim_step, check_noise_amplification
from .ex03 import check_asymmetric_step, check_glasses_t_edit
from .ex04 import check_editor_dependence, check_editor_mix
from .ex05 import check_pca_direction, check_supervised_direction
from .ex06 import check_transport, check_transport_meaning
from .ex07 import check_hosvd_energy, check_parameter_budget
from .ex08 import check_additivity, check_glasses_off, check_strength_reading
from .ex09 import check_checkpoint_folder, check_h_scaling, check_pullback_cost
from .ex10 import check_beats_random, check_bootstrap_interval, check_rank_correlation
from .feedback import Feedback

__all__ = [
    "Feedback",
    "check_svd_by_hand", "check_topk_svd", "check_kernel_direction",
    "check_ddim_step", "check_noise_amplification",
    "check_asymmetric_step", "check_glasses_t_edit",
    "check_editor_mix", "check_editor_dependence",
    "check_pca_direction", "check_supervised_direction",
    "check_transport", "check_transport_meaning",
    "check_hosvd_energy", "check_parameter_budget",
    "check_strength_reading", "check_glasses_off", "check_additivity",
    "check_h_scaling", "check_pullback_cost", "check_checkpoint_folder",
    "check_bootstrap_interval", "check_beats_random", "check_rank_correlation",
]
