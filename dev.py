#!/usr/bin/env python3
"""The README's two commands; needs nothing but python3.

    python3 dev.py start   # the portal with a demo café: web, Celery worker and beat
    python3 dev.py test    # lint, migration check and the whole test suite
    python3 dev.py bench   # the benchmark (by hand, on PostgreSQL): see docs/benchmarks.md

Both create .venv/ and install requirements.txt on first use (and again when
the file changes). Everything else is read from the environment: see README.
"""

import hashlib
import os
import signal
import subprocess
import sys
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
    """Migrate, create the demo café, then run web, worker and beat from Procfile.dev with honcho,
    which stops all three on Ctrl-C or when one of them exits."""
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("PORT", "8000")
    # The processes' commands (python, celery) come from the virtual environment.
    os.environ["PATH"] = f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    run(PYTHON, "manage.py", "migrate", "--no-input", "-v", "0")
    run(PYTHON, "manage.py", "demo")
    url = f"http://127.0.0.1:{os.environ['PORT']}/"
    print(f"\n  The portal runs at {url}  (Ctrl-C stops web, worker and beat)\n", flush=True)
    honcho = subprocess.Popen([str(VENV / "bin" / "honcho"), "start", "-f", "Procfile.dev"], cwd=ROOT)

    def stop(signum, _frame):
        # Ctrl-C reaches honcho by itself; a SIGTERM to us (or a SIGINT a background shell
        # ignores for honcho) is passed on, and honcho stops all three.
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return honcho.wait()


def test(args: list[str]) -> int:
    if not args:
        # The full run also holds the tree to the quality bars.
        run(PYTHON, "-m", "ruff", "check", ".")
        run(PYTHON, "-m", "ruff", "format", "--check", ".")
        run(PYTHON, "manage.py", "makemigrations", "--check", "--dry-run", env={**os.environ, "DEBUG": "true"})
    return subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT).returncode


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in {"start", "test", "bench"}:
        print(__doc__)
        return 2
    ensure_environment()
    try:
        if command == "bench":
            return subprocess.run([str(PYTHON), "tests/bench/run.py", *sys.argv[2:]], cwd=ROOT).returncode
        return start() if command == "start" else test(sys.argv[2:])
    except subprocess.CalledProcessError as error:
        return error.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
