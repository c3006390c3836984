"""Output that is never half-written: files are made in a temp directory beside the target, then renamed in.

A report interrupted or out of disk space leaves the previous report as it was; each finished file replaces
its old version by a rename (atomic on one filesystem). Files of the target that the writer does not make
(e.g. a surrogate report beside the NB101 report) stay.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from suite.errors import NasreproError

TMP_SUFFIX = ".tmp"


def check_writable_dir(path: str | Path, flag: str = "--out") -> Path:
    """`path` is, or can be made, a directory this process can write into; else one line naming it."""
    if str(path).strip() == "":
        raise NasreproError(f"{flag} is empty; give a directory")
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise NasreproError(f"{flag} {target} is not a directory")
    try:
        make_writable_dir(target)
    except OSError as exc:
        raise NasreproError(f"{flag} {target} is not writable: {exc.strerror or exc}") from None
    return target


@contextmanager
def output_dir(path: str | Path, flag: str = "--out") -> Iterator[Path]:
    """`check_writable_dir(path)` for a command's output; if the command then fails, the directories this
    call created are removed again where they are still empty: a failed command leaves nothing behind."""
    target = Path(path)
    created = [p for p in (target, *target.parents) if not p.exists()]  # the deepest first
    checked = check_writable_dir(path, flag)
    try:
        yield checked
    except BaseException:
        if created:
            for parent, _, _ in sorted(os.walk(target), key=lambda entry: -len(entry[0])):
                with contextlib.suppress(OSError):  # not empty: something was made there, it stays
                    os.rmdir(parent)
            for directory in created[1:]:
                with contextlib.suppress(OSError):
                    directory.rmdir()
        raise


def make_writable_dir(path: Path) -> None:
    """Create `path` if needed and prove this process can write into it (OSError if not): permissions
    alone do not tell (read-only mounts, root on a read-only filesystem)."""
    path.mkdir(parents=True, exist_ok=True)
    probe = path / f".nasrepro-write-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    probe.write_bytes(b"")
    probe.unlink()


@contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write; renamed onto `path` when the block succeeds, removed if not.
    Named after the writer's process, so a cleaner can tell whether its writer is gone."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        yield tmp
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Yield a temp directory; when the block succeeds, move everything in it into `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        yield stage
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                destination = target / path.relative_to(stage)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, destination)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a writer process on this host may still write: it exists and is not a zombie. A killed
    writer whose parent died too stays a zombie until something reaps it (in a container whose first
    process reaps nothing, for good); signal 0 still reaches it, but it writes nothing any more."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no procfs (not Linux), or it just went
        return True
    return not stat[stat.rindex(")") + 2 :].startswith("Z")
