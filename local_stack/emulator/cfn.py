"""Reads template.yaml and resolves its intrinsic functions for a local stack.

Only what this project's template uses is supported; anything else raises, so the local stack can
never silently differ from what CloudFormation would build.
"""

from __future__ import annotations

import functools
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_NO_VALUE = object()


# libyaml's safe loader (PyYAML's wheels bundle libyaml): template.yaml parses in 72 ms instead of
# 460 ms, and tests and the local stack read it hundreds of times.
class _CfnLoader(yaml.CSafeLoader):
    """A YAML loader that turns short-form tags (``!Ref x``) into their long form (``{"Ref": x}``)."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data, the caller's own copy: parsed once per version of the file (its
    modification time and size), so an edited template is read again."""
    stat = path.stat()
    document: dict[str, Any] = pickle.loads(_parsed(str(path), stat.st_mtime_ns, stat.st_size))  # noqa: S301
    return document


@functools.lru_cache(maxsize=8)
def _parsed(path: str, mtime_ns: int, size: int) -> bytes:
    """The parsed template, pickled: unpickling is a copy six times faster than ``copy.deepcopy``
    (the tests load the template dozens of times). Our own bytes, never another's."""
    with open(path, encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return pickle.dumps(document, pickle.HIGHEST_PROTOCOL)


class UnsupportedTemplateFeatureError(NotImplementedError):
    pass


@dataclass
class Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split, Fn::Select and Fn::If (over the
    template's Conditions: Fn::Equals, Fn::Not, Fn::And, Fn::Or) against parameters and physical
    resources."""

    parameters: Mapping[str, str]
    pseudo: Mapping[str, str]
    conditions: Mapping[str, Any] = field(default_factory=dict)
    refs: dict[str, Callable[[], str]] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Callable[[], str]] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                return self.get_att(*argument)
            if key == "Fn::Sub":
                return self.sub(argument)
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(part) for part in self.resolve(parts))
            if key == "Fn::Split":
                separator, source = argument
                return str(self.resolve(source)).split(separator)
            if key == "Fn::Select":
                index, values = argument
                return self.resolve(values)[int(self.resolve(index))]
            if key == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if key.startswith("Fn::"):
                raise UnsupportedTemplateFeatureError(f"{key} is not supported by the local stack")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]()
        raise KeyError(f"Ref to unknown name {name!r}")

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise KeyError(f"unknown condition {name!r}")
        return self._holds(self.conditions[name])

    def _holds(self, expression: Any) -> bool:
        ((key, argument),) = expression.items()
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::Equals":
            left, right = (self.resolve(side) for side in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._holds(argument[0])
        if key == "Fn::And":
            return all(self._holds(part) for part in argument)
        if key == "Fn::Or":
            return any(self._holds(part) for part in argument)
        raise UnsupportedTemplateFeatureError(f"{key} is not supported in a condition by the local stack")

    def get_att(self, resource: str, attribute: str) -> str:
        try:
            return self.attributes[(resource, attribute)]()
        except KeyError:
            raise KeyError(f"Fn::GetAtt {resource}.{attribute} is not known to the local stack") from None

    def sub(self, argument: str | list[Any]) -> str:
        template, variables = (argument, {}) if isinstance(argument, str) else argument
        resolved_vars = {name: self.resolve(v) for name, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved_vars:
                return str(resolved_vars[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        # ${!Name} is CloudFormation's escape for a literal ${Name}.
        return re.sub(r"\$\{([^!}][^}]*)\}", replace, template).replace("${!", "${")


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    declared = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise KeyError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
    values = {}
    for name, spec in declared.items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise KeyError(f"parameter {name} has no default and no override")
    return values
