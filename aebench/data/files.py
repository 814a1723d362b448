"""Dataset files on disk: finding them, opening them gzipped or not, and fetching them with a checksum."""
from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

from aebench.errors import DataError

DOWNLOAD_TIMEOUT_S = 60


def find(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzip (by its magic bytes, whatever its name)."""
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    try:
        if gzipped:
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError) as error:
        kind = "gzip" if gzipped else "a file"
        raise DataError(f"{path} is corrupt: it cannot be read as {kind} ({error})") from None


def md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(name: str, mirrors: Sequence[str], expected_md5: str, destination: Path) -> Path:
    """Fetch ``name`` from the first mirror that answers, check its MD5, and place it at ``destination``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as partial:
            try:
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                    shutil.copyfileobj(response, partial)
            except (urllib.error.URLError, OSError, ValueError) as error:
                failures.append(f"{url}: {getattr(error, 'reason', error)}")
                Path(partial.name).unlink(missing_ok=True)
                continue
        found = md5(Path(partial.name))
        if found != expected_md5:
            Path(partial.name).unlink(missing_ok=True)
            raise DataError(f"{url} has a bad checksum: MD5 {found}, expected {expected_md5}; nothing was kept")
        Path(partial.name).replace(destination)
        return destination
    raise DataError(f"could not download {name} ({'; '.join(failures)}); put it in {destination.parent}/ yourself")
