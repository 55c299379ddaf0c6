"""The shipped probe and judge: they read renders' ground truth (scikit-learn's scores as the oracle),
the judge is another network trained on other renders, and bad arguments fail clearly."""
import pytest
import torch
from sklearn.metrics import accuracy_score, r2_score

import latentlab as ll
import latentlab.probe as probe_module
from latentlab.faces import BINARY_ATTRIBUTES
from latentlab.probe import BUNDLED_JUDGE, BUNDLED_PROBE, ProbeConfig, load_probe, save_probe, train_probe

FRESH = 9_000_000  # a render seed neither probe trained on (see test_the_judge_trained_on_renders_of_its_own)


@pytest.fixture(scope="module")
def fresh_renders():
    return ll.render_faces(512, seed=FRESH)


@pytest.mark.parametrize("judge", [False, True])
def test_the_shipped_probes_read_fresh_renders(judge, fresh_renders):
    x, attrs = fresh_renders
    with torch.no_grad():
        read = load_probe(judge=judge)(x)
    for name in ll.ATTRIBUTES:
        y, r = attrs[name].numpy(), read[name].numpy()
        if name in BINARY_ATTRIBUTES:
            assert accuracy_score(y, r > 0.5) >= 0.98, name
        else:
            assert r2_score(y, r) >= 0.95, name


def test_the_judge_is_another_network():
    probe, judge = load_probe(), load_probe(judge=True)
    assert (judge.config.channels, judge.config.hidden) != (probe.config.channels, probe.config.hidden)
    assert judge.config.seed != probe.config.seed
    shapes = lambda m: [tuple(p.shape) for p in m.state_dict().values()]  # noqa: E731
    assert shapes(judge) != shapes(probe)
    assert judge.config == ProbeConfig.judge()


def _training_seeds(config: ProbeConfig) -> range:
    return range(config.render_seed + config.seed * 100_000, config.render_seed + config.seed * 100_000 + config.steps)


def test_the_judge_trained_on_renders_of_its_own():
    probe, judge = load_probe().config, load_probe(judge=True).config
    seen_p, seen_j = set(_training_seeds(probe)), set(_training_seeds(judge))
    assert not seen_p & seen_j
    assert FRESH not in seen_p | seen_j


def test_training_renders_the_seeds_the_config_names(monkeypatch):
    """The shipped probe's training reproduces: step i renders seed 1_000_000 + seed * 100_000 + i, as before
    the render_seed field existed."""
    seen = []
    real = probe_module.render_faces

    def recording(n, *, seed, **kw):
        seen.append(seed)
        return real(n, seed=seed, **kw)

    monkeypatch.setattr(probe_module, "render_faces", recording)
    train_probe(ProbeConfig(channels=(4, 8, 8), hidden=16, steps=3, batch=8), progress=False)
    assert seen == [1_000_000, 1_000_001, 1_000_002]
    seen.clear()
    train_probe(ProbeConfig(channels=(4, 8, 8), hidden=16, steps=2, batch=8, seed=2, render_seed=5), progress=False)
    assert seen == [200_005, 200_006]


def test_save_and_load_round_trip(tmp_path):
    p = train_probe(ProbeConfig.tiny(), progress=False)
    save_probe(p, tmp_path / "p")
    q = load_probe(tmp_path / "p")
    assert q.config == p.config
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(q(x)["smile"], p(x)["smile"])


def test_load_probe_bad_input(tmp_path):
    with pytest.raises(ValueError, match="give folder or judge=True, not both"):
        load_probe(BUNDLED_PROBE, judge=True)
    with pytest.raises(TypeError, match="judge must be True or False"):
        load_probe(judge="yes")
    with pytest.raises(FileNotFoundError, match="config.json does not exist"):
        load_probe(tmp_path)
    assert BUNDLED_JUDGE.is_dir() and BUNDLED_JUDGE != BUNDLED_PROBE
