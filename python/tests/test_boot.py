"""Boot: READY, BOOT_ERROR and exit 3, APP_SPEC forms."""
import os
import signal
import subprocess

import pytest

import harness


def test_ready_payload(spawn):
    w = spawn("testapp", threads=3)
    version = subprocess.check_output([harness.PYTHON, "-c", "import platform; print(platform.python_version())"])
    assert w.ready_info == {"pid": w.proc.pid, "python": version.decode().strip(), "threads": 3,
                            "interface": "wsgi"}
    for chan in range(3):
        assert w.get("/hello", chan).body == b"hello"


SPEC_FORMS = [
    ("testapp", b"hello"),
    ("testapp:application", b"hello"),
    ("app_only", b"app_only"),
    ("app_only:app", b"app_only"),
    ("factory:create_app()", b"factory"),
    ("factory:holder.app", b"factory"),
    ("pkg.mod:obj.app", b"pkg.mod"),
    ("hello.wsgi", b"hello.wsgi"),
    ("hello.wsgi:other", b"hello.wsgi other"),
    ("pkg.wsgi:application", b"pkg.wsgi"),  # Django's layout: a dotted module that ends in .wsgi
    ("sub/script.py", b"sub/script.py"),
    ("sub/script.py:app", b"sub/script.py"),
    (os.path.join(harness.APPS, "hello.wsgi:application"), b"hello.wsgi"),
]


@pytest.mark.parametrize("spec, body", SPEC_FORMS)
def test_app_spec_forms(booting, spec, body):
    w = booting[spec]
    w.ready()
    assert w.get("/hello").body == body


def test_file_spec_outside_cwd(spawn, tmp_path):
    w = spawn(os.path.join(harness.APPS, "sub", "script.py") + ":app", cwd=str(tmp_path))
    assert w.get("/").body == b"sub/script.py"


def test_cwd_is_on_sys_path(spawn, tmp_path):
    (tmp_path / "here.py").write_text(
        "import sys\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [repr(sys.path[:2]).encode()]\n")
    body = spawn("here", cwd=str(tmp_path)).get("/").body.decode()
    assert body.startswith("[%r" % str(tmp_path))
    assert os.path.dirname(harness.WORKER) not in body


BAD_SPECS = [
    ("nosuch", "no module named 'nosuch'"),
    ("nosuch.sub:app", "no module named 'nosuch'"),
    ("testapp:nosuch", "has no attribute 'nosuch'"),
    ("pkg.mod:obj.nosuch", "has no attribute 'obj.nosuch'"),
    ("factory", "neither 'application' nor 'app'"),
    ("broken", "RuntimeError: boom at import"),
    ("broken.py", "RuntimeError: boom at import"),
    ("needs_missing", "error while importing 'needs_missing': ModuleNotFoundError"),
    ("factory:not_callable", "is not callable (it is a int)"),
    ("factory:bad_factory()", "RuntimeError: factory exploded"),
    ("testapp:application(1)", "invalid callable"),
    ("nosuch.py", "no such file"),
    ("nosuch.wsgi:app", "no such file"),
    ("other.wsgi:app", "no module named 'other'"),
    # a dotted module that exists and fails: its error, not "no such file brokensite.wsgi"
    ("brokensite.wsgi", "error while importing 'brokensite.wsgi': RuntimeError: brokensite fails to import"),
]


@pytest.fixture(scope="module")
def booting():
    """Every worker of the parametrized tests below, started at once (they boot in parallel)."""
    workers = {spec: harness.Worker(spec, wait_ready=False) for spec in [s for s, _ in SPEC_FORMS + BAD_SPECS]}
    yield workers
    for w in workers.values():
        w.close()


@pytest.mark.parametrize("spec, fragment", BAD_SPECS)
def test_boot_error(booting, spec, fragment):
    w = booting[spec]
    text = w.boot_error()
    first = text.splitlines()[0]
    assert first.startswith("Failed to load application %r: " % spec), first
    assert fragment in first, first
    if spec == "brokensite.wsgi":
        assert "no such file" not in first, first
    assert "Traceback (most recent call last)" in text
    assert w.wait() == 3


def test_bad_arguments(spawn):
    w = spawn(args=["testapp", "--threads", "zero"], wait_ready=False)
    text = w.boot_error()
    assert "--threads needs a positive whole number, got 'zero'" in text and "usage: worker.py APP_SPEC" in text
    assert w.wait() == 3


def test_sigint_is_ignored(w):
    os.kill(w.proc.pid, signal.SIGINT)
    assert w.get("/hello").body == b"hello"
    assert w.proc.poll() is None
