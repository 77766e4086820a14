"""The base of every function's settings: read from the environment ``template.yaml`` gives the
function, at handler entry (a test passes its own mapping)."""

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict


class EnvironmentSettings(BaseModel):
    """Settings whose field aliases are environment variable names. Variables a function does not
    use are ignored (Lambda and the template set more than any one function reads); the schema is
    built on first use, not when the module is imported (a cold start builds only what it reads)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        return cls.model_validate(dict(os.environ if environ is None else environ))
