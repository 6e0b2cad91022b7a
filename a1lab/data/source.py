"""Where match files come from: a URL base or a local folder with the same layout."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from a1lab.data.errors import DataFileError, DataTimeoutError, DataUnavailableError

DEFAULT_BASE = "https://www.football-data.co.uk"
DATA_ROOT_ENV = "A1LAB_DATA_ROOT"


def resolve_root(root: str | None) -> str:
    """The data base: an explicit root, else (``auto``) $A1LAB_DATA_ROOT, else the site's URL."""
    if root and root != "auto":
        return root
    return os.environ.get(DATA_ROOT_ENV) or DEFAULT_BASE


_HINT = (
    "a1lab reads a local mirror with the site's layout (mmz4281/<season>/<div>.csv): "
    "set A1LAB_DATA_ROOT=/path/to/football-data or `data.root` in params.yaml "
    "(or pass --root)."
)


@dataclass(frozen=True)
class FileSource:
    """A base that is either an http(s) URL or a local folder.

    Attributes:
        base: URL such as ``https://www.football-data.co.uk`` or a folder path.
        timeout: seconds to wait to connect, and for each read of a download.
    """

    base: str = DEFAULT_BASE
    timeout: float = 10.0

    @property
    def is_url(self) -> bool:
        return self.base.startswith(("http://", "https://"))

    def locate(self, relpath: str) -> str:
        """Full URL or path of a file under the base."""
        if self.is_url:
            return f"{self.base.rstrip('/')}/{relpath}"
        return str(Path(self.base) / relpath)

    def fingerprint(self, relpath: str) -> str:
        """What says whether one file changed: the SHA-256 of a local file; for a URL, the server's ``ETag``,
        ``Last-Modified`` and ``Content-Length`` (one HEAD request), or the SHA-256 of the download when it sends
        none of them.

        Raises:
            DataUnavailableError: the file is missing or the base unreachable.
        """
        if not self.is_url:
            return hashlib.sha256(self.read(relpath)).hexdigest()
        request = urllib.request.Request(self.locate(relpath), method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                headers = {k: response.headers.get(k) for k in ("ETag", "Last-Modified", "Content-Length")}
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise self._error("could not reach", self.locate(relpath), exc) from None
        known = {k: v for k, v in headers.items() if v}
        if not known:
            return hashlib.sha256(self.read(relpath)).hexdigest()
        return "; ".join(f"{k} {v}" for k, v in known.items())

    def read(self, relpath: str) -> bytes:
        """The bytes of one file.

        Raises:
            DataUnavailableError: the file is missing or the base unreachable.
        """
        where = self.locate(relpath)
        if not self.is_url:
            root = Path(self.base)
            if not root.is_dir():
                raise DataUnavailableError(f"data root {root} is not a folder. {_HINT}")
            path = Path(where)
            if not path.is_file():
                raise DataUnavailableError(f"no file {path} under data root {root}. {_HINT}")
            return path.read_bytes()
        try:
            with urllib.request.urlopen(where, timeout=self.timeout) as response:  # noqa: S310
                return response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise self._error("could not download", where, exc) from None

    def _error(self, what: str, where: str, exc: Exception) -> DataUnavailableError:
        if isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
            return DataTimeoutError(f"{what} {where}: no answer within {self.timeout:g} s (to connect or to send); "
                                    f"the data root's other files are not tried. {_HINT}")
        return DataUnavailableError(f"{what} {where}: {exc}. {_HINT}")


def read_file(path: str | Path) -> bytes:
    """The bytes of a local file named by the user.

    Raises:
        DataUnavailableError: no such file.
        DataFileError: it cannot be read (a folder, no permission, an I/O error).
    """
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataUnavailableError(f"no file {path}") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
