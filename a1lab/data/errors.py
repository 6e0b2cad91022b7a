"""The errors of reading match data (here, not in quarantine.py, so that raising or catching them imports no
pandas: `a1lab manifest`, which DVC runs on every `dvc repro`, needs none)."""


class DataFileError(ValueError):
    """A file that cannot be a match file (HTML, binary, wrong columns)."""


class DataUnavailableError(RuntimeError):
    """The data source could not be reached or holds no such file."""


class DataTimeoutError(DataUnavailableError):
    """The data source accepted no connection, or sent nothing, within the timeout: its other files are not
    tried (a hung server would otherwise cost the timeout once per file)."""
