"""Where the datasets live: ``--data-dir``, then ``$LINCLF_DATA_DIR``, then the user cache.

A directory *holds* MNIST when it has a ``mnist/`` subfolder with the four IDX files, or has
the four files itself (each either ``.gz`` or uncompressed).  It holds CIFAR-10 when it has a
``cifar-10-batches-bin/`` subfolder with the binary batches (preferred) or a
``cifar-10-batches-py/`` subfolder with the python batches, or has those files itself.

A folder given explicitly (``--data-dir``) is the only one searched: if it lacks files, the
error names them (no silent fall-back to ``$LINCLF_DATA_DIR`` or the cache).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from linclf_cli.data.registry import (
    CIFAR10_FILES,
    CIFAR10_SUBDIR,
    CIFAR10_VERSIONS,
    cifar10_files,
    DATASETS,
    MNIST_FILES,
    MNIST_SUBDIR,
)
from linclf_cli.errors import DataError, UsageError

ENV_VAR = "LINCLF_DATA_DIR"
CACHE_ENV_VAR = "LINCLF_CACHE_DIR"


def cache_dir() -> Path:
    """``$LINCLF_CACHE_DIR``, else the per-user cache, e.g. ``~/.cache/linclf`` (may not exist)."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    return Path(platformdirs.user_cache_dir("linclf", appauthor=False))


def candidate_dirs(
    data_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> list[tuple[str, Path]]:
    """Directories searched for datasets, highest priority first.

    Parameters
    ----------
    data_dir : the ``--data-dir`` option, if given.
    env : environment to read ``LINCLF_DATA_DIR`` from; ``os.environ`` when None.

    Returns
    -------
    list of (source, path) : source is ``"--data-dir"``, ``"LINCLF_DATA_DIR"`` or ``"cache"``.
    """
    env = os.environ if env is None else env
    out: list[tuple[str, Path]] = []
    if data_dir is not None:
        out.append(("--data-dir", Path(data_dir).expanduser()))
    if env.get(ENV_VAR):
        out.append((ENV_VAR, Path(env[ENV_VAR]).expanduser()))
    out.append(("cache", cache_dir()))
    return out


def check_name(name: str) -> str:
    """Return ``name`` if it is a known dataset, else raise UsageError (exit 2)."""
    if name not in DATASETS:
        raise UsageError(
            f"Unknown dataset {name!r}.", f"Choose one of: {', '.join(DATASETS)}."
        )
    return name


def required_files(name: str) -> list[str]:
    """File names a dataset folder must contain (MNIST: the ``.gz`` names)."""
    check_name(name)
    if name == "mnist":
        return [f.name for f in MNIST_FILES.values()]
    return list(CIFAR10_FILES)


def _holds_mnist(d: Path) -> bool:
    return all(
        (d / f.name).is_file() or (d / f.raw_name).is_file()  # type: ignore[operator]
        for f in MNIST_FILES.values()
    )


def _holds_cifar10(d: Path) -> bool:
    return all((d / f).is_file() for f in CIFAR10_FILES)


def _holds_cifar10_version(d: Path, version: str) -> bool:
    return all((d / f).is_file() for f in cifar10_files(version))


def cifar10_dirs_in(root: Path) -> list[tuple[str, Path]]:
    """Every complete CIFAR-10 folder under ``root``: (version, folder), binary first.

    Looks in ``root/cifar-10-batches-bin``, ``root/cifar-10-batches-py`` and ``root`` itself.
    """
    out: list[tuple[str, Path]] = []
    for version, sub in CIFAR10_VERSIONS.items():
        for d in (root / sub, root):
            try:
                if _holds_cifar10_version(d, version):
                    out.append((version, d))
                    break
            except OSError:  # unreadable directory: treat as not holding it
                continue
    return out


def dataset_dir_in(name: str, root: Path) -> Path | None:
    """The folder under ``root`` holding dataset ``name`` (subfolder first), or None."""
    check_name(name)
    if name == "cifar10":
        found = cifar10_dirs_in(root)
        return found[0][1] if found else None
    for d in (root / MNIST_SUBDIR, root):
        try:
            if _holds_mnist(d):
                return d
        except OSError:  # unreadable directory: treat as not holding it
            continue
    return None


def missing_files(name: str, root: Path) -> str:
    """What ``root`` lacks for dataset ``name``, per layout that is partly there (for errors)."""
    if name == "mnist":
        parts = []
        for d in (root / MNIST_SUBDIR, root):
            have = [f for f in MNIST_FILES.values()
                    if (d / f.name).is_file() or (d / f.raw_name).is_file()]  # type: ignore[operator]
            if have and len(have) < len(MNIST_FILES):
                lack = [f.name for f in MNIST_FILES.values() if f not in have]
                parts.append(f"{d} lacks {', '.join(lack)}")
        return "; ".join(parts)
    parts = []
    for version, sub in CIFAR10_VERSIONS.items():
        for d in (root / sub, root):
            try:
                names = cifar10_files(version)
                have = [f for f in names if (d / f).is_file()]
            except OSError:
                continue
            if have and len(have) < len(names):
                lack = [f for f in names if f not in have]
                parts.append(f"{d} ({version} version) lacks {', '.join(lack)}")
    return "; ".join(parts)


def find_dataset(
    name: str, data_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The folder holding dataset ``name``, from the first candidate directory that has it.

    Parameters
    ----------
    name : ``"mnist"`` or ``"cifar10"``.
    data_dir, env : see :func:`candidate_dirs`.

    Returns
    -------
    Path : the folder containing the dataset's files.

    Raises
    ------
    UsageError : unknown dataset name.
    DataError : no candidate holds the dataset; lists the files and every folder searched.
    """
    check_name(name)
    candidates = candidate_dirs(data_dir, env)
    if data_dir is not None:  # an explicit folder is the only one searched
        candidates = candidates[:1]
    for _, root in candidates:
        found = dataset_dir_in(name, root)
        if found is not None:
            return found
    sub = MNIST_SUBDIR if name == "mnist" else CIFAR10_SUBDIR
    files = required_files(name)
    if name == "mnist":
        files_txt = ", ".join(files) + " (each .gz or uncompressed)"
        subs_txt = f"{sub}"
    else:
        files_txt = (", ".join(files) + f" (python version), or "
                     + ", ".join(cifar10_files("binary")) + " (binary version)")
        subs_txt = " or ".join(CIFAR10_VERSIONS.values())
    if data_dir is not None:
        root = candidates[0][1]
        lacks = missing_files(name, root)
        what = f"Missing files: {lacks}." if lacks else (
            f"It has neither a {subs_txt}/ subfolder with the files nor the files themselves."
            if root.is_dir() else "The folder does not exist.")
        raise DataError(
            f"--data-dir {root} does not hold a complete {name} ({files_txt}). {what}",
            f"Complete that folder (or run `linclf data fetch {name} --dest {root}` on a "
            f"machine with internet), or leave out --data-dir to search {ENV_VAR} and the "
            "user cache.",
        )
    searched = "; ".join(f"{p / sub} and {p} ({src})" for src, p in candidates)
    lacks = "; ".join(m for _, p in candidates if (m := missing_files(name, p)))
    target = candidates[0][1] / sub
    raise DataError(
        f"{name} not found: no folder holds {files_txt}. Searched: {searched}."
        + (f" Incomplete: {lacks}." if lacks else ""),
        f"Put the files in {target}, or set {ENV_VAR} to a folder that has a {subs_txt}/ "
        f"subfolder with them, or run `linclf data fetch {name}` on a machine with internet.",
    )
