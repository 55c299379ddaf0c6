"""latentlab: interpretable latent directions in diffusion models, on a laptop CPU.

Data flows model -> trajectory -> direction -> edit -> measurement:
`load_model` -> `ddim_sample` / `ddim_invert` / `h_trajectory` -> `pullback` / `eps_jacobian` /
`mean_difference` / `paired_direction` / `load_editor` / `pca_directions` / `x_space_guidance` ->
`ddim_sample(dh=...)` -> `read_edit` / `measure_edit` (with `load_probe`). Every direction-finding
method's settings live once, in the registry `METHODS`; a `Workbench` hands out its candidates, which
`compare_methods` and the `EditSession` behind the widget use.
"""
from . import scale, stats
from .architectures import random_model
from .asyrp import Editor, edit_interval, load_editor, train_editor
from .compare import compare_methods
from .ddim import D_t, P_t, ddim_invert, ddim_sample, ddim_step, ddim_timesteps, q_sample, sigma_t
from .directions import StepDirection, combine, h_trajectory, mean_difference, paired_direction
from .faces import ATTRIBUTES, REGIONS, region_mask, render_faces
from .haas import jacobian_directions, pca_directions, supervised_direction
from .hosvd import energy_table, hosvd, jacobian_tensor, rank1_directions
from .hspace import eps_of, h_of
from .jacobians import eps_jacobian, pullback, pullback_spectra
from .linalg import SVD, dense_jacobian, topk_svd
from .loco import LocoDirections, face_mask, loco_directions, loco_edit
from .methods import METHODS, Candidate, Method, Workbench
from .metrics import additivity_error, asymmetry, measure_edit, read_edit, scaling, scaling_r2, sweep
from .model import Model, forward_ad, latents_of, load_model, pixels_of, tiny_model
from .park import edit_and_denoise, linearity_error, move_along, multi_edit, transport, x_space_guidance
from .probe import Probe, load_probe
from .sae import SparseAutoencoder, feature_activations, feature_direction, load_sae, train_sae
from .session import EditSession
from .slider import Slider, load_slider, sample_with_slider, train_slider

__all__ = [
    "Model", "load_model", "tiny_model", "forward_ad", "pixels_of", "latents_of", "random_model", "scale",
    "h_of", "eps_of",
    "P_t", "D_t", "sigma_t", "q_sample", "ddim_timesteps", "ddim_step", "ddim_sample", "ddim_invert",
    "SVD", "topk_svd", "pullback", "pullback_spectra", "eps_jacobian", "dense_jacobian",
    "jacobian_tensor", "hosvd", "energy_table", "rank1_directions",
    "h_trajectory", "mean_difference", "paired_direction", "StepDirection", "combine",
    "Editor", "load_editor", "train_editor", "edit_interval",
    "pca_directions", "jacobian_directions", "supervised_direction",
    "x_space_guidance", "move_along", "transport", "edit_and_denoise", "multi_edit", "linearity_error",
    "METHODS", "Method", "Workbench", "Candidate", "compare_methods", "EditSession", "stats",
    "read_edit", "measure_edit", "scaling", "scaling_r2", "additivity_error", "asymmetry", "sweep",
    "ATTRIBUTES", "render_faces", "Probe", "load_probe",
    "loco_directions", "loco_edit", "LocoDirections", "face_mask", "REGIONS", "region_mask",
    "SparseAutoencoder", "train_sae", "load_sae", "feature_direction", "feature_activations",
    "Slider", "train_slider", "load_slider", "sample_with_slider",
]
