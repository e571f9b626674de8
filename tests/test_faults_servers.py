"""The fault suite's private PostgreSQL cluster starts from a checkout in a private folder.

`make faults` on a clone in a 0700 directory (a home folder, `mktemp -d`) stopped at initdb:
as root the cluster runs as `postgres`, which cannot enter the checkout. The cluster now lives
in a 0755 directory under the system temp dir (tests/faults/servers.py private_cluster_root).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.faults.servers import PgCluster, free_port, pg_bindir, private_cluster_root


def _pg_available() -> bool:
    try:
        pg_bindir()
    except RuntimeError:
        return False
    return os.geteuid() != 0 or shutil.which("runuser") is not None


pytestmark = pytest.mark.skipif(not _pg_available(), reason="no PostgreSQL server binaries")


def test_cluster_root_is_reachable_from_a_private_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the working directory (the checkout) is a folder only its owner can enter
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.chdir(private)
    root = private_cluster_root()
    try:
        # then: the cluster's directory is elsewhere, 0755, and the server's user can enter it
        assert private not in root.parents
        assert root.stat().st_mode & 0o777 == 0o755
        if os.geteuid() == 0:
            reach = ["runuser", "-u", "postgres", "--", "test", "-x", str(root)]
            assert subprocess.run(reach, check=False).returncode == 0  # noqa: S603
        # and initdb, as that user, succeeds there
        cluster = PgCluster(root / "pg", free_port()).init()
        assert (cluster.data / "PG_VERSION").exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_cluster_inside_a_private_folder_fails_with_initdb_reason(tmp_path: Path) -> None:
    # The old layout (the cluster inside the checkout) fails, and says why rather than only
    # "exit status 1".
    if os.geteuid() != 0:
        pytest.skip("only root runs the cluster as another user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(RuntimeError, match="initdb"):
        PgCluster(private / "pg", free_port()).init()
