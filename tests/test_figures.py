"""`latentlab.course.figures` writes every file it lists, for any model (here a tiny random U-Net, which the
shipped editors do not fit), and skips the comparison with a note while no results are shipped."""

import matplotlib.pyplot as plt
import pytest

from latentlab import compare
from latentlab.course import figures


def test_write_figures_on_the_tiny_model(tmp_path, model, capsys):
    files = figures.write_figures(tmp_path / "slides", model, progress=False)
    assert all(f.parent == tmp_path / "slides" for f in files)
    on_disk = sorted(p.name for p in (tmp_path / "slides").iterdir())
    assert sorted(f.name for f in files) == on_disk  # every file listed was written, and nothing else
    shipped = (compare.SHIPPED_RESULTS / "samples_seed0.csv").is_file()
    expected = [n for n in figures.FIGURES if n != "comparison" or shipped]
    assert on_disk == sorted(f"{n}.{ext}" for n in expected for ext in ("png", "svg"))
    for f in files:
        head = f.read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n" if f.suffix == ".png" else b"<svg" in f.read_bytes()[:2000]
    width = int.from_bytes((tmp_path / "slides" / "unet.png").read_bytes()[16:20], "big")
    assert width > 1000  # slide resolution: 200 dpi
    if not shipped:
        assert "comparison figure skipped" in capsys.readouterr().out
    assert not plt.get_fignums()  # every figure closed


def test_the_cli_writes_a_chosen_figure(tmp_path):
    files = figures.main([str(tmp_path), "--only", "pushforward", "--dpi", "50"])
    assert [f.name for f in files] == ["pushforward.png", "pushforward.svg"] and all(f.is_file() for f in files)


def test_bad_arguments_name_what_is_allowed(tmp_path, model):
    with pytest.raises(ValueError, match="only must name figures"):
        figures.write_figures(tmp_path, model, only=["nope"])
    with pytest.raises(ValueError, match="formats"):
        figures.write_figures(tmp_path, model, formats=["gif"])
