"""Data-parallel analyses (latentlab.scale): the shard/gather helpers, and a real 2-process run under
`accelerate launch` (CPU processes over gloo) against the 1-process run of the same calls.

Run as a script (`accelerate launch ... tests/test_scale.py OUT`), this file is the worker: every
process runs the analyses on its share and process 0 saves the results to OUT.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import latentlab as ll
from latentlab.asyrp import EditorConfig
from latentlab.jacobians import pullback_spectra
from latentlab.scale import all_mean_, gather, gather_object, map_samples, shard, shard_bounds, world

N_PCA, N_PULLBACK = 7, 3  # 7 over 2 processes: unequal shares (4 + 3), the harder case


def analyses() -> dict[str, torch.Tensor]:
    """The analyses that grow with the number of samples, on a tiny model; the same calls in both runs.

    In float64: the shares are other batch sizes, which round differently, and Adam turns rounding
    noise in a near-zero gradient into a step of size lr; in float64 that noise is 1e-16, so the
    comparison can be tight (measured: the editors of the two runs agree to 3e-12 in float64, to 2e-3
    in float32, with the losses along the way equal to 6 digits in both).
    """
    from helpers import LinearProbe, gen

    model = ll.tiny_model().to(dtype=torch.float64)
    x_T = torch.randn(N_PCA, *model.sample_shape, generator=gen(1), dtype=torch.float64)
    pcs = ll.pca_directions(model, x_T, 3, k=2, progress=False)
    scores = pcs.trajectory.x0.flatten(1).mean(1)  # any per-sample score: the supervised direction's input
    sup = ll.supervised_direction(pcs.trajectory.h, scores, top=0.3)
    spectra = pullback_spectra(model, x_T[:N_PULLBACK], 500, k=2, tol=1e-6, progress=False)
    # 32 px: the comparison's on-manifold error renders faces of 32 px at least; three levels put the
    # attention at 8 px (a third less U-Net time than at 16 px)
    m32 = ll.tiny_model(sample_size=32, levels=3).to(dtype=torch.float64)
    editor = ll.train_editor(m32, "smile", 1.0, "f", probe=LinearProbe().double(), progress=False,
                             **_editor_options())
    ddim = map_samples(lambda xs: ll.ddim_sample(model, xs, 2, progress=False), x_T)  # compare_methods' building block
    table = _comparison(m32, LinearProbe().double(), gen)
    return {"ddim": ddim, "compare": table, "components": pcs.components, "sigma": pcs.sigma, "mean": pcs.mean,
            "h": pcs.trajectory.h,
            "supervised": sup, "S": spectra.S, "V": spectra.V, "U": spectra.U,
            **{f"editor.{k}": v for k, v in editor.state_dict().items()}}


def _comparison(model, probe, gen) -> torch.Tensor:
    """`compare_methods` with two h-space methods edited by DDIM (so every edit runs sharded)."""
    from latentlab.compare import compare_methods

    d = torch.randn(model.h_shape, generator=gen(5), dtype=torch.float64)
    edit = lambda s: lambda x, c: ll.ddim_sample(model, x, 2, dh=s * c * d, progress=False)  # noqa: E731
    methods = {"d": lambda attr, goal: {"+d": edit(1.0), "-d": edit(-1.0)},
               "2d": lambda attr, goal: {"+2d": edit(2.0)}}
    xc = torch.randn(5, *model.sample_shape, generator=gen(6), dtype=torch.float64)
    xt = torch.randn(7, *model.sample_shape, generator=gen(7), dtype=torch.float64)
    df = compare_methods(model, {"hair_color": 1.0}, xc, xt, methods=[], extra=methods, pixel_budget=0.05, steps=2,
                         probe=probe, progress=False)
    return torch.tensor(df[["c", "change", "pixel_change", "manifold_after"]].to_numpy(dtype="float64"))


def _editor_options() -> dict:
    return {k: v for k, v in vars(EditorConfig.tiny(batch=4, trajectories=2)).items()
            if k not in ("attr", "goal", "kind")}


def worker(out: str) -> None:
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    result = analyses()
    rank, size = world()
    assert size == 2, f"the worker expects 2 processes, got {size}"
    shares = gather_object(shard_bounds(10))  # every process must see the same split
    if rank == 0:
        # safetensors for the tensors, JSON for the rest: the kit never unpickles, not even its own files
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in result.items()}, out)
        Path(out).with_suffix(".json").write_text(json.dumps({"size": size, "shares": shares}))


def _free_port() -> int:
    with socket.socket() as s:  # other jobs share this machine: never assume torchrun's default 29500 is free
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- one process


def test_shard_bounds_partition_the_samples():
    for n in (0, 1, 5, 7, 64):
        for size in (1, 2, 3, 8):
            bounds = [shard_bounds(n, r, size) for r in range(size)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, in rank order
            sizes = [b - a for a, b in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_one_process_helpers_are_the_identity():
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    assert world() == (0, 1)
    assert shard(x) is x and gather(x, 5) is x
    g = x.clone()
    all_mean_([g])
    assert torch.equal(g, x) and gather_object(3) == [3]


def test_map_samples_checks_fn():
    with pytest.raises(ValueError, match="one output per sample"):
        map_samples(lambda xs: xs.sum(), torch.ones(3, 2))
    with pytest.raises(TypeError, match="fn must be a callable"):
        map_samples(3, torch.ones(3))


def test_bad_input():
    with pytest.raises(ValueError, match="n must be a number of samples"):
        shard_bounds(-1)
    with pytest.raises(ValueError, match="rank must lie in"):
        shard_bounds(4, 2, 2)
    with pytest.raises(ValueError, match="local must be this process's share of n = 5"):
        gather(torch.zeros(4), 5)
    with pytest.raises(ValueError, match="x must be a tensor with samples on axis 0"):
        shard(torch.tensor(1.0))


def test_pullback_spectra_is_pullback_per_sample():
    """Oracle: `pullback` called on each sample by hand."""
    model = ll.tiny_model()
    x = torch.randn(2, *model.sample_shape, generator=torch.Generator().manual_seed(3))
    spectra = pullback_spectra(model, x, 400, k=2, tol=1e-6, progress=False)
    for i in range(2):
        one = ll.pullback(model, x[i], 400, k=2, tol=1e-6)
        torch.testing.assert_close(spectra.S[i], one.S)
        torch.testing.assert_close(spectra.V[i], one.V)
    with pytest.raises(ValueError, match="takes seed=, not generator="):
        pullback_spectra(model, x, 400, generator=torch.Generator())


# ----------------------------------------------------------------------------- two processes


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
    """`accelerate launch` with 2 CPU processes (torchrun + gloo) gives what one process gives."""
    out = tmp_path / "two.safetensors"
    launcher = Path(sys.executable).parent / "accelerate"
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           __file__, str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr[-3000:]
    from safetensors.torch import load_file
    two = {"result": load_file(out), **json.loads(out.with_suffix(".json").read_text())}
    assert two["size"] == 2 and [tuple(s) for s in two["shares"]] == [(0, 5), (5, 10)]
    one = analyses()
    assert set(one) == set(two["result"])
    for key, value in one.items():
        torch.testing.assert_close(two["result"][key], value, rtol=1e-9, atol=1e-10, msg=lambda m: f"{key}: {m}")


if __name__ == "__main__":
    worker(sys.argv[1])
