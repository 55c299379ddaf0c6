"""`make install` takes torch's CPU build from PyTorch's CPU index on Linux when that index answers, and
falls back to the default index within a bounded wait when it does not (offline mirrors, this machine).
Local HTTP servers stand in for the index: one that serves torch's page, one that never answers."""
import importlib.util
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "install_torch.py"
spec = importlib.util.spec_from_file_location("install_torch", SCRIPT)
install_torch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install_torch)


class _Index(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        ok = self.path.rstrip("/").endswith("/torch")
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(b"<a href='torch-2.13.0+cpu.whl'>torch</a>" if ok else b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def index():
    server = HTTPServer(("127.0.0.1", 0), _Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/simple"
    server.shutdown()


@pytest.fixture
def silent():
    """A port that accepts connections and never answers: the slow failure a proxy gives."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield f"http://127.0.0.1:{s.getsockname()[1]}/simple"
    s.close()


def test_linux_takes_the_cpu_index_when_it_answers(index):
    cmd = install_torch.pip_command(index, wait=5, system="Linux")
    assert cmd[cmd.index("--index-url") + 1] == index
    assert "torch==2.13.0" in cmd


def test_linux_falls_back_to_the_default_index_when_the_cpu_index_is_refused():
    start = time.perf_counter()
    cmd = install_torch.pip_command("http://127.0.0.1:9/simple", wait=5, system="Linux")
    assert "--index-url" not in cmd and time.perf_counter() - start < 5


def test_the_fallback_waits_no_longer_than_its_bound(silent):
    start = time.perf_counter()
    cmd = install_torch.pip_command(silent, wait=1.0, system="Linux")
    assert "--index-url" not in cmd
    assert time.perf_counter() - start < 3  # the Makefile's 10 s default keeps a fresh install under 30 s


def test_macos_uses_the_default_index_whose_wheel_is_the_cpu_build(index):
    assert "--index-url" not in install_torch.pip_command(index, wait=5, system="Darwin")


def test_bad_wait_is_refused(capsys):
    with pytest.raises(SystemExit):
        install_torch.main(["--wait", "0", "--dry-run"])
    assert "--wait must be in (0, 60]" in capsys.readouterr().err
