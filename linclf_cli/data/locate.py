"""Where the datasets live: ``--data-dir``, then ``$LINCLF_DATA_DIR``, then the user cache.

A directory *holds* MNIST when it has a ``mnist/`` subfolder with the four IDX files, or has
the four files itself (each either ``.gz`` or uncompressed).  It holds CIFAR-10 when it has a
``cifar-10-batches-py/`` subfolder with the python batches, or has those files itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from linclf_cli.data.registry import (
    CIFAR10_FILES,
    CIFAR10_SUBDIR,
    DATASETS,
    MNIST_FILES,
    MNIST_SUBDIR,
)
from linclf_cli.errors import DataError, UsageError

ENV_VAR = "LINCLF_DATA_DIR"


def cache_dir() -> Path:
    """The per-user cache directory, e.g. ``~/.cache/linclf`` on Linux (may not exist)."""
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


def dataset_dir_in(name: str, root: Path) -> Path | None:
    """The folder under ``root`` holding dataset ``name`` (subfolder first), or None."""
    check_name(name)
    sub, holds = (MNIST_SUBDIR, _holds_mnist) if name == "mnist" else (CIFAR10_SUBDIR, _holds_cifar10)
    for d in (root / sub, root):
        try:
            if holds(d):
                return d
        except OSError:  # unreadable directory: treat as not holding it
            continue
    return None


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
    for _, root in candidates:
        found = dataset_dir_in(name, root)
        if found is not None:
            return found
    sub = MNIST_SUBDIR if name == "mnist" else CIFAR10_SUBDIR
    files = required_files(name)
    if name == "mnist":
        files_txt = ", ".join(files) + " (each .gz or uncompressed)"
    else:
        files_txt = ", ".join(files)
    searched = "; ".join(f"{p / sub} and {p} ({src})" for src, p in candidates)
    target = candidates[0][1] / sub
    raise DataError(
        f"{name} not found: no folder holds {files_txt}. Searched: {searched}.",
        f"Put the files in {target}, or set {ENV_VAR} to a folder that has a {sub}/ "
        f"subfolder with them, or run `linclf data fetch {name}` on a machine with internet.",
    )
