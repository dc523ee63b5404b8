#!/usr/bin/env python3
"""The README's two commands; needs nothing but python3.

    python3 dev.py start   # the portal with a demo café: web, Celery worker and beat
    python3 dev.py test    # lint, migration check and the whole test suite

Both create .venv/ and install requirements.txt on first use (and again when
the file changes). Everything else is read from the environment: see README.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=True, **kwargs)


def ensure_environment() -> None:
    if not PYTHON.exists():
        print("Creating .venv …", flush=True)
        run(sys.executable, "-m", "venv", VENV)
    requirements = (ROOT / "requirements.txt").read_bytes()
    digest = hashlib.sha256(requirements).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if not stamp.exists() or stamp.read_text() != digest:
        print("Installing requirements …", flush=True)
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PYTHON, "-m", "pip", "install", "--quiet", "-r", "requirements.txt")
        stamp.write_text(digest)


def start() -> int:
    os.environ.setdefault("DEBUG", "true")
    port = os.environ.get("PORT", "8000")
    run(PYTHON, "manage.py", "migrate", "--no-input", "-v", "0")
    run(PYTHON, "manage.py", "demo")
    processes = {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [PYTHON, "-m", "celery", "-A", "loyalty_site", "worker", "-l", "info", "--concurrency", "2"],
        "beat": [PYTHON, "-m", "celery", "-A", "loyalty_site", "beat", "-l", "info"],
    }
    children = {name: subprocess.Popen([str(a) for a in cmd], cwd=ROOT) for name, cmd in processes.items()}
    print(f"\n  The portal runs at http://127.0.0.1:{port}/  (Ctrl-C stops web, worker and beat)\n", flush=True)

    def stop():
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    def interrupted(signum, _frame):
        raise KeyboardInterrupt

    # Set explicitly: a shell that starts us in the background ignores SIGINT,
    # and Ctrl-C or a SIGTERM must stop all three processes either way.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name} stopped (exit {child.returncode}); stopping the others.", file=sys.stderr)
                    stop()
                    return child.returncode or 1
            time.sleep(1)
    except KeyboardInterrupt:
        stop()
        return 0


def test(args: list[str]) -> int:
    if not args:
        # The full run also holds the tree to the quality bars.
        run(PYTHON, "-m", "ruff", "check", ".")
        run(PYTHON, "-m", "ruff", "format", "--check", ".")
        run(PYTHON, "manage.py", "makemigrations", "--check", "--dry-run", env={**os.environ, "DEBUG": "true"})
    return subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT).returncode


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in {"start", "test"}:
        print(__doc__)
        return 2
    ensure_environment()
    try:
        return start() if command == "start" else test(sys.argv[2:])
    except subprocess.CalledProcessError as error:
        return error.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
