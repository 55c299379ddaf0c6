"""load_model: diffusers folders in each layout, hub ids (mocked download), safetensors only."""
import json

import pytest
import torch
from diffusers import AutoencoderKL, DDIMPipeline, DDIMScheduler, DDPMScheduler, UNet2DModel

import latentlab as ll

from helpers import gen

# google/ddpm-cifar10-32's U-Net config as published on the hub (a real config, random weights).
DDPM_CIFAR10_CONFIG = {
    "_class_name": "UNet2DModel", "act_fn": "silu", "attention_head_dim": None,
    "block_out_channels": [128, 256, 256, 256], "center_input_sample": False,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
    "downsample_padding": 0, "flip_sin_to_cos": False, "freq_shift": 1, "in_channels": 3,
    "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-06, "norm_num_groups": 32,
    "out_channels": 3, "sample_size": 32, "time_embedding_type": "positional",
    "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
}
DDPM_SCHEDULER_CONFIG = {
    "_class_name": "DDPMScheduler", "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001,
    "clip_sample": True, "num_train_timesteps": 1000, "trained_betas": None, "variance_type": "fixed_small",
}


def write_hub_style_pipeline(root, unet_config, seed=0):
    """A folder laid out like a diffusers hub repo: model_index.json, unet/, scheduler/."""
    torch.manual_seed(seed)
    config = {k: v for k, v in unet_config.items() if not k.startswith("_")}
    unet = UNet2DModel(**config)
    unet.save_pretrained(root / "unet", safe_serialization=True)
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps(DDPM_SCHEDULER_CONFIG))
    (root / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "scheduler": ["diffusers", "DDPMScheduler"],
         "unet": ["diffusers", "UNet2DModel"]}))
    return unet


def test_pipeline_folder_roundtrip(tmp_path):
    model = ll.tiny_model()
    DDIMPipeline(unet=model.unet, scheduler=DDIMScheduler()).save_pretrained(tmp_path, safe_serialization=True)
    loaded = ll.load_model(tmp_path)
    x = torch.randn(1, 3, 16, 16, generator=gen(0))
    assert torch.allclose(loaded.unet(x, 3).sample, model.unet(x, 3).sample, atol=1e-5)
    assert isinstance(loaded.scheduler, DDIMScheduler) and loaded.sample_shape == (3, 16, 16)


def test_real_config_with_ddpm_scheduler(tmp_path):
    unet = write_hub_style_pipeline(tmp_path, DDPM_CIFAR10_CONFIG)
    model = ll.load_model(tmp_path)
    assert isinstance(model.scheduler, DDIMScheduler)
    assert torch.allclose(
        model.scheduler.alphas_cumprod,
        DDPMScheduler(**{k: v for k, v in DDPM_SCHEDULER_CONFIG.items() if not k.startswith("_")}).alphas_cumprod,
    )
    assert model.sample_shape == (3, 32, 32) and model.h_shape == (256, 4, 4)
    x = torch.randn(1, 3, 32, 32, generator=gen(0))
    assert torch.allclose(ll.eps_of(model, x, 10), unet.eval()(x, 10).sample, atol=1e-5)
    assert ll.h_of(model, x, 10).shape == (1, 256, 4, 4)


def test_hub_id_goes_through_snapshot_download(tmp_path, monkeypatch):
    import huggingface_hub

    write_hub_style_pipeline(tmp_path, DDPM_CIFAR10_CONFIG)
    asked = {}

    def fake_download(repo_id, allow_patterns=None, **kw):
        asked.update(repo_id=repo_id, allow_patterns=allow_patterns)
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    model = ll.load_model("google/ddpm-cifar10-32")
    assert asked["repo_id"] == "google/ddpm-cifar10-32"
    assert not any(p.endswith((".bin", ".ckpt")) for p in asked["allow_patterns"])  # never fetch pickles
    assert model.sample_shape == (3, 32, 32)


def test_hub_repo_with_pickles_only_gets_the_conversion_to_run(tmp_path, monkeypatch):
    """A flat repo like google/ddpm-ema-celebahq-256 (config.json, scheduler_config.json, a .bin): the
    error names the one-time conversion, with a trust warning, and that conversion, run with plain
    diffusers, gives a folder load_model takes. No network: snapshot_download is mocked."""
    import huggingface_hub

    repo, model = tmp_path / "repo", ll.tiny_model()
    model.unet.save_pretrained(repo, safe_serialization=False)  # config.json + diffusion_pytorch_model.bin
    (repo / "scheduler_config.json").write_text(json.dumps(DDPM_SCHEDULER_CONFIG))
    (repo / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "scheduler": ["diffusers", "DDPMScheduler"],
         "unet": ["diffusers", "UNet2DModel"]}))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: str(repo))
    with pytest.raises(FileNotFoundError) as e:
        ll.load_model("google/ddpm-ema-celebahq-256")
    message = str(e.value)
    assert "has no safetensors weights" in message and "only if you trust its source" in message
    convert = ('UNet2DModel.from_pretrained(\'google/ddpm-ema-celebahq-256\', use_safetensors=False)'
               '.save_pretrained(DIR, safe_serialization=True)')
    scheduler = "DDPMScheduler.from_pretrained('google/ddpm-ema-celebahq-256').save_pretrained(DIR)"
    assert convert in message and scheduler in message and "load_model(DIR)" in message
    out = tmp_path / "converted"  # the conversion as the message says, on the local copy of the repo
    UNet2DModel.from_pretrained(repo, use_safetensors=False).save_pretrained(out, safe_serialization=True)
    DDPMScheduler.from_pretrained(repo).save_pretrained(out)
    loaded = ll.load_model(out)
    x = torch.randn(1, 3, 16, 16, generator=gen(0))
    assert torch.allclose(loaded.unet(x, 3).sample, model.unet(x, 3).sample, atol=1e-5)
    assert loaded.scheduler.config.beta_schedule == "linear" and loaded.scheduler.config.clip_sample


def test_bare_unet_folder_gets_default_ddim(tmp_path):
    model = ll.tiny_model()
    model.unet.save_pretrained(tmp_path, safe_serialization=True)
    loaded = ll.load_model(tmp_path)
    assert loaded.scheduler.config.clip_sample and loaded.num_train_timesteps == 1000


def test_conditional_unet_loads_and_runs(tmp_path):
    model = ll.tiny_model(conditional=True)
    model.unet.save_pretrained(tmp_path, safe_serialization=True)
    loaded = ll.load_model(tmp_path)
    assert loaded.conditional and loaded.cond.shape == (1, 77, 8)
    loaded.cond = model.cond
    x = torch.randn(2, 3, 16, 16, generator=gen(0))
    assert torch.allclose(ll.eps_of(loaded, x, 30), ll.eps_of(model, x, 30))
    assert ll.ddim_sample(loaded, x, steps=2, progress=False).shape == x.shape


def test_dtype(tmp_path):
    ll.tiny_model().unet.save_pretrained(tmp_path, safe_serialization=True)
    assert next(ll.load_model(tmp_path, dtype=torch.float64).unet.parameters()).dtype == torch.float64


def test_bundled_model_loads_with_plain_diffusers():
    if not ll.model.BUNDLED_MODEL.is_dir():
        pytest.skip("the bundled faces model has not landed yet")
    model = ll.load_model()
    pipe = DDIMPipeline.from_pretrained(ll.model.BUNDLED_MODEL)
    x = torch.randn(1, *model.sample_shape, generator=gen(0))
    assert torch.allclose(pipe.unet(x, 5).sample, model.unet(x, 5).sample, atol=1e-5)


# --------------------------------------------------------------------------- refusals


def test_pickle_only_folder_is_refused(tmp_path):
    model = ll.tiny_model()
    model.unet.save_pretrained(tmp_path, safe_serialization=False)
    assert list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.safetensors"))
    with pytest.raises(ValueError, match="only pickle weights.*safetensors only"):
        ll.load_model(tmp_path)


def test_truncated_safetensors_names_the_file(tmp_path):
    ll.tiny_model().unet.save_pretrained(tmp_path, safe_serialization=True)
    (weights,) = tmp_path.glob("*.safetensors")
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(ValueError, match="could not load U-Net weights .*diffusion_pytorch_model.safetensors"):
        ll.load_model(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an existing folder"):
        ll.load_model(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="config.json does not exist"):
        ll.load_model(tmp_path)


def test_config_that_is_not_a_unet(tmp_path):
    AutoencoderKL(block_out_channels=(8,), norm_num_groups=4, latent_channels=2).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'AutoencoderKL', not a U-Net"):
        ll.load_model(tmp_path)


def test_source_of_wrong_type():
    with pytest.raises(TypeError, match="source must be"):
        ll.load_model(3)


def test_bundled_model_matches_the_readme():
    """The README's model table states the shipped config; the shipped folder must agree."""
    from pathlib import Path

    if not ll.model.BUNDLED_MODEL.is_dir():
        pytest.skip("the bundled faces model has not landed yet")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    config = json.loads((ll.model.BUNDLED_MODEL / "unet" / "config.json").read_text())
    sched = json.loads((ll.model.BUNDLED_MODEL / "scheduler" / "scheduler_config.json").read_text())
    assert f"block_out_channels {tuple(config['block_out_channels'])}" in readme
    assert f"layers_per_block {config['layers_per_block']}" in readme
    assert f"norm_num_groups {config['norm_num_groups']}" in readme
    assert ", ".join(config["down_block_types"]) in readme
    assert config["sample_size"] == 32 and sched["clip_sample"] is True and sched["num_train_timesteps"] == 1000
    model = ll.load_model()
    n = sum(p.numel() for p in model.unet.parameters())
    assert f"{n / 1e6:.2f} M parameters" in readme
    assert f"h | the middle block's output, {' x '.join(map(str, model.h_shape))}" in readme
    size = sum(f.stat().st_size for f in ll.model.BUNDLED_MODEL.rglob("*") if f.is_file())
    assert size < 20e6
