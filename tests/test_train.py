"""The training command: a resumed run is the same run, and its output folder is a diffusers pipeline."""

import pytest
import torch
from diffusers import DDIMPipeline

import latentlab as ll
from latentlab.train import TrainConfig, train


def test_resumed_run_equals_straight_run(tmp_path) -> None:
    cfg = dict(unet="tiny", size=32, batch=4, warmup=2, sample_every=0, threads=1)
    straight = train(TrainConfig(out=str(tmp_path / "a"), steps=6, **cfg), progress=False)
    train(TrainConfig(out=str(tmp_path / "b"), steps=4, **cfg), progress=False)  # stops, checkpoints
    resumed = train(TrainConfig(out=str(tmp_path / "b"), steps=6, **cfg), progress=False)
    logged = [int(line.split()[0]) for line in (tmp_path / "b" / "log.txt").read_text().splitlines()]
    assert logged == [4, 6]  # the second call resumed at step 4 (a restart from 0 would also end at 6)
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(q, p, rtol=0, atol=0, msg=name)
    pipe = DDIMPipeline.from_pretrained(tmp_path / "b" / "pipeline")  # the EMA, loadable by diffusers
    assert pipe.scheduler.config.clip_sample
    model = ll.load_model(tmp_path / "b" / "pipeline")
    torch.testing.assert_close(model.unet.state_dict()["conv_in.weight"], resumed.state_dict()["conv_in.weight"])


def test_wall_clock_limit_stops_and_saves(tmp_path) -> None:
    cfg = TrainConfig(out=str(tmp_path), unet="tiny", size=32, batch=4, steps=10_000, minutes=1e-4,
                      sample_every=0, threads=1)
    train(cfg, progress=False)
    step = int((tmp_path / "log.txt").read_text().split()[0])
    assert 1 <= step < 10_000 and (tmp_path / "pipeline" / "model_index.json").exists()


def test_bad_config_raises(tmp_path) -> None:

    with pytest.raises(ValueError, match="device must be a torch device such as 'cpu' or 'cuda', got 'gpu0'"):
        train(TrainConfig(out=str(tmp_path), unet="tiny", device="gpu0"), progress=False)
    with pytest.raises(ValueError, match=r"minutes must be >= 0 \(0: no time limit\), got -1"):
        train(TrainConfig(out=str(tmp_path), unet="tiny", minutes=-1), progress=False)
    with pytest.raises(ValueError, match="unet preset must be one of"):
        train(TrainConfig(out=str(tmp_path), unet="huge"), progress=False)
