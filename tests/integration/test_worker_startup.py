"""A process worker refuses to start on a malformed seed file, naming the file and line.

Loading the taxonomy in the worker's main process (worker_init) means the pool children
inherit it ready; a broken file must stop the worker there, with a clear message and
the EX_CONFIG exit status, rather than fail every document in the pool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT
from workers.errors import EXIT_CONFIG
from workers.runtime.supervisor import worker_command
from workers.settings import Settings

START_TIMEOUT_SECONDS = 90


def test_process_worker_refuses_a_malformed_taxonomy(settings: Settings, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(REPO_ROOT / "seeds", seeds, ignore=shutil.ignore_patterns("devset", "demo"))
    broken = seeds / "taxonomy" / "sanctions.yaml"
    broken.write_text(
        broken.read_text(encoding="utf-8") + "\n  threshold: [unclosed\n", encoding="utf-8"
    )
    env = {**os.environ, "NEWSWIRE_SEEDS_DIR": str(seeds)}

    done = subprocess.run(
        worker_command("process", settings, concurrency=1),
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )

    assert done.returncode == EXIT_CONFIG, done.stderr[-2000:]
    assert "refusing to start a process worker" in done.stderr
    assert "sanctions.yaml" in done.stderr
    assert "line" in done.stderr
