"""The base of every validated settings section (params.yaml's sections, a data layout's source)."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Settings that refuse unknown keys and do not change once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)
