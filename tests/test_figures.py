"""`latentlab.course.figures`: every lecture has a slide figure named after one of its sections (the
oracle: the lecture's own `## ` headings), `--list` names them all, the files written are exactly the
ones listed, PNGs carry their resolution in the pHYs chunk (read by Pillow) and faces are drawn at 4x
or more; figures needing the bundled model's editors are skipped with a note on another model."""
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from latentlab.course import figures

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LECTURES = {p.name[:2]: p for p in sorted(NOTEBOOKS.glob("[01][0-9]_*.py"))}
CHEAP = ["01_pushforward", "02_unet", "04_homogeneity", "09_samples", "03_asymmetric"]  # seconds on a tiny model


def test_every_lecture_has_a_figure_named_by_one_of_its_sections():
    assert sorted(LECTURES) == [f"{i:02d}" for i in range(1, 12)]
    assert {name[:2] for name in figures.FIGURES} == set(LECTURES)
    for name, fig in figures.FIGURES.items():
        number, rest = fig.section.split(" ", 1)
        assert number == name[:2], name
        source = LECTURES[number].read_text()
        numbered = re.fullmatch(r"§(\d+) (.+)", rest)
        heading = rf"^# ## {numbered[1]}\. " if numbered else rf"^# ## {re.escape(rest)}$"
        assert re.search(heading, source, re.M), f"{name}: no section {rest!r} in {LECTURES[number].name}"
        assert fig.needs in figures.NEEDS


def test_list_names_every_figure_with_its_section(capsys):
    assert figures.main(["--list"]) == []
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(figures.FIGURES)
    assert all(line.endswith(fig.section) for line, fig in zip(lines, figures.FIGURES.values()))


def test_a_cheap_subset_on_the_tiny_model(tmp_path, model, capsys):
    files = figures.write_figures(tmp_path / "slides", model, only=CHEAP, progress=False)
    on_disk = sorted(p.name for p in (tmp_path / "slides").iterdir())
    assert sorted(f.name for f in files) == on_disk  # every file listed was written, and nothing else
    drawn = [n for n in CHEAP if n != "03_asymmetric"]  # the shipped editors do not fit a tiny model's h
    assert on_disk == sorted(f"{n}.{ext}" for n in drawn for ext in ("png", "svg"))
    assert "03_asymmetric skipped" in capsys.readouterr().out
    for f in files:
        if f.suffix == ".png":
            with Image.open(f) as im:
                assert round(im.info["dpi"][0]) >= 200 and round(im.info["dpi"][1]) >= 200  # the pHYs chunk
                assert im.width > 400
        else:
            assert b"<svg" in f.read_bytes()[:2000]
    assert not plt.get_fignums()  # every figure closed


@pytest.mark.parametrize("name", ["09_samples", "08_sweep"])
def test_faces_are_drawn_at_four_times_their_size_or_more(name, model):
    fig = figures.FIGURES[name].draw(model)
    try:
        shown = [ax for ax in fig.axes if ax.images]
        assert shown
        for ax in shown:
            width = ax.images[0].get_array().shape[1]
            assert ax.get_window_extent().width / fig.dpi * 200 >= 4 * width  # pixels at 200 dpi
    finally:
        plt.close(fig)


def test_the_cli_writes_a_chosen_figure_at_its_dpi(tmp_path):
    files = figures.main([str(tmp_path), "--only", "01_kernel", "--dpi", "72"])
    assert [f.name for f in files] == ["01_kernel.png", "01_kernel.svg"]
    with Image.open(files[0]) as im:
        assert round(im.info["dpi"][0]) == 72


def test_unknown_names_and_bad_arguments_say_what_is_allowed(tmp_path, model, capsys):
    with pytest.raises(ValueError, match=r"only must name figures of .*01_pushforward.*got the unknown \['nope'\]"):
        figures.write_figures(tmp_path, model, only=["nope"])
    with pytest.raises(TypeError, match="only must be a list"):
        figures.write_figures(tmp_path, model, only="01_kernel")
    with pytest.raises(ValueError, match="formats"):
        figures.write_figures(tmp_path, model, formats=["gif"])
    with pytest.raises(SystemExit):
        figures.main([str(tmp_path), "--only", "nope"])
    assert "nope" in capsys.readouterr().err and not list(tmp_path.iterdir())
