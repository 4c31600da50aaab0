"""What the benchmark datamodules share: their files (download, extract, verify) and argument checks.

A benchmark datamodule names the files it reads as :class:`RemoteFile` s, paths relative
to its ``data_source_dir``, with the URL they come from. :func:`fetch` (its
``prepare_data``) downloads and extracts the missing ones and verifies every one by its
MD5 checksum: against the checksum in the :class:`RemoteFile` when the data set's
publisher gives one, else against the checksum recorded in ``data_source_dir`` when the
file was downloaded (a manifest in ``md5sum`` format, so ``md5sum -c`` checks it too).
Files placed in ``data_source_dir`` by hand (e.g. on a machine without internet access)
are used as they are when nothing is recorded for them.
"""

import hashlib
import logging
import shutil
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Dict, Iterable, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

#: the checksums of downloaded files, in ``data_source_dir``, one ``<md5>  <path>`` line each
MANIFEST = "nequip_data_checksums.md5"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """A file a datamodule reads, relative to its ``data_source_dir``, and where it comes from.

    Attributes:
        path: the file's path relative to ``data_source_dir``, e.g. ``rmd17/npz_data/rmd17_aspirin.npz``.
        url: what to download.
        archives: when the download is an archive holding the file: the archive's name
            (what the download is saved as), then any archive inside it to extract next,
            all relative to ``data_source_dir``; empty when the download is the file itself.
        md5: the publisher's MD5 checksum of the file, when there is one.
        google_drive: the URL is a Google Drive share, downloaded with ``gdown``.
    """

    path: str
    url: str
    archives: Tuple[str, ...] = ()
    md5: Optional[str] = None
    google_drive: bool = False


class DataFileError(RuntimeError):
    """A data file is missing and cannot be downloaded, or its checksum is wrong."""


def md5sum(path: Path) -> str:
    """MD5 checksum of a file, as ``md5sum`` prints it."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(folder: Path) -> Dict[str, str]:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return {}
    entries = {}
    for line in manifest.read_text().splitlines():
        checksum, _, path = line.partition("  ")
        if path:
            entries[path] = checksum
    return entries


def _write_manifest(folder: Path, entries: Dict[str, str]) -> None:
    text = "".join(f"{checksum}  {path}\n" for path, checksum in sorted(entries.items()))
    (folder / MANIFEST).write_text(text)


def _download(remote: RemoteFile, target: Path) -> None:
    """Download ``remote.url`` to ``target`` through a ``.part`` file, so that an interrupted
    download never leaves a file that looks complete."""
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", remote.url, target)
    try:
        if remote.google_drive:
            try:
                import gdown
            except ImportError as err:
                raise DataFileError(
                    f"downloading {remote.url} (a Google Drive file) needs gdown: pip install gdown; "
                    f"or place {remote.archives[0] if remote.archives else remote.path!r} in the data_source_dir by hand"
                ) from err
            if gdown.download(remote.url, str(partial), quiet=True) is None:
                raise OSError("gdown could not download the file")
        else:
            with urllib.request.urlopen(remote.url, timeout=60) as response, open(partial, "wb") as file:
                expected = response.headers.get("Content-Length")
                shutil.copyfileobj(response, file, _CHUNK)
            if expected is not None and partial.stat().st_size != int(expected):
                raise OSError(f"the download stopped after {partial.stat().st_size} of {expected} bytes")
    except (OSError, ValueError) as err:
        partial.unlink(missing_ok=True)
        raise DataFileError(
            f"could not download {remote.url} to {str(target)!r}: {err}. Without internet access, download it "
            f"elsewhere and place {remote.path!r} (or the archive {target.name!r}) in the data_source_dir"
        ) from err
    partial.replace(target)


def _inside(folder: Path, member: str) -> bool:
    return (folder / member).resolve().is_relative_to(folder.resolve())


def _extract(archive: Path, folder: Path) -> None:
    """Extract a zip or tar archive (any compression) into ``folder``; members may not leave it."""
    logger.info("extracting %s", archive)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            outside = [name for name in zipped.namelist() if not _inside(folder, name)]
            if outside:
                raise DataFileError(f"archive {str(archive)!r} has members outside its folder: {outside[:3]}")
            zipped.extractall(folder)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            outside = [m.name for m in tar.getmembers() if not _inside(folder, m.name) or m.issym() or m.islnk()]
            if outside:
                raise DataFileError(f"archive {str(archive)!r} has links or members outside its folder: {outside[:3]}")
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12: refuse special files too
                tar.extractall(folder, filter="data")
            else:
                tar.extractall(folder)
    else:
        raise DataFileError(f"{str(archive)!r} is neither a zip nor a tar archive; delete it to download it again")


def _expected_md5(remote: RemoteFile, recorded: Dict[str, str]) -> Optional[str]:
    return remote.md5 or recorded.get(remote.path)


def _verify(remote: RemoteFile, folder: Path, expected: Optional[str]) -> str:
    checksum = md5sum(folder / remote.path)
    if expected is not None and checksum != expected:
        raise DataFileError(
            f"data file {str(folder / remote.path)!r} has MD5 checksum {checksum}, expected {expected}: it is "
            f"corrupt or another version. Delete it to download it again from {remote.url}"
        )
    return checksum


def fetch(files: Sequence[RemoteFile], data_source_dir: str) -> None:
    """Make sure every file in ``files`` is in ``data_source_dir``, downloading what is missing.

    Present files are verified (see the module docstring); missing ones are downloaded
    (and extracted), verified and their checksums recorded.

    Raises:
        DataFileError: when a file cannot be downloaded (names the file, the URL and what to
            place by hand), is not in its archive, or has another checksum than expected
            (names the file, both checksums and the URL).
    """
    folder = Path(data_source_dir)
    folder.mkdir(parents=True, exist_ok=True)
    recorded = _read_manifest(folder)
    missing = []
    for remote in files:
        if (folder / remote.path).is_file():
            expected = _expected_md5(remote, recorded)
            _verify(remote, folder, expected)
            if expected is None:
                logger.info("using %s as it is (no checksum recorded for it)", folder / remote.path)
        else:
            missing.append(remote)
    for download in _by_download(missing):
        first = download[0]
        target = folder / (first.archives[0] if first.archives else first.path)
        if not target.is_file():
            _download(first, target)
        for archive in first.archives:
            _extract(folder / archive, folder)
        for remote in download:
            if not (folder / remote.path).is_file():
                raise DataFileError(
                    f"{remote.path!r} is not in the archive(s) {list(remote.archives)} downloaded from {remote.url}"
                )
            recorded[remote.path] = _verify(remote, folder, remote.md5)
        _write_manifest(folder, recorded)


def _by_download(files: Iterable[RemoteFile]) -> list:
    """The files grouped by what is downloaded for them (several files come from one archive)."""
    groups: Dict[tuple, list] = {}
    for remote in files:
        groups.setdefault((remote.url, remote.archives[:1] or (remote.path,)), []).append(remote)
    return list(groups.values())


class FetchedFilesMixin:
    """For datamodules whose ``prepare_data`` fetches their files (see :func:`fetch`).

    A class using it sets ``remote_files`` and ``data_source_dir`` in its constructor.
    """

    #: the files exist only after ``prepare_data`` (read by :class:`ASEDataModule`)
    files_exist_when_built: ClassVar[bool] = False
    remote_files: Tuple[RemoteFile, ...]
    data_source_dir: str

    def prepare_data(self) -> None:
        """Download and extract the missing files into ``data_source_dir``; verify all of them."""
        fetch(self.remote_files, self.data_source_dir)


def check_choice(argument: str, value, allowed: Sequence) -> None:
    """Raise ``ValueError`` naming ``argument`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{argument}={value!r} is not supported; choose one of {list(allowed)}")


def split_sizes(argument: str, sizes: Sequence, subsets: Sequence[str]) -> Dict[str, object]:
    """``{subset: size}`` from a list of sizes (fractions or counts), one per subset."""
    sizes = list(sizes) if not isinstance(sizes, (str, dict)) else None
    if sizes is None or len(sizes) != len(subsets):
        raise ValueError(f"{argument} must be a list of {len(subsets)} sizes (fractions or counts) for {list(subsets)}")
    return dict(zip(subsets, sizes))
