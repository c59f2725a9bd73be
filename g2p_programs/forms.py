"""Back-office forms of the programs app.

:class:`ManagerAssignmentForm` is generated from the manager class's JSON Schema
(``registry.get(kind, key).config_schema()``): each leaf property becomes one form field, nested
objects are flattened with dotted names (``recurrence.rrule_type``), and the pydantic errors of
the manager's ``Config`` are put back on the field they name. Nothing here writes: the admin
saves the configuration through :func:`g2p_programs.services.programs.manager_configure`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminDateWidget,
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from g2p_programs.models import ManagerAssignment
from g2p_programs.registry import registry

CONFIG_PREFIX = "config__"


class CommaSeparatedField(forms.CharField):
    """A list as comma-separated text; ``item_type`` is ``int`` or ``str``."""

    def __init__(self, *, item_type: type = str, **kwargs: Any) -> None:
        self.item_type = item_type
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value: Any) -> list[Any]:  # type: ignore[override]
        text = super().to_python(value)
        items = [p.strip() for p in (text or "").split(",") if p.strip()]
        if self.item_type is int:
            try:
                return [int(p) for p in items]
            except ValueError:
                raise ValidationError(_("Enter whole numbers separated by commas.")) from None
        return items


def _resolve(schema: dict[str, Any], prop: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The property with ``$ref`` resolved and ``anyOf [X, null]`` unwrapped; and nullability."""
    nullable = False
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        prop = {
            **schema.get("$defs", {}).get(name, {}),
            **{k: v for k, v in prop.items() if k != "$ref"},
        }
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(prop["anyOf"])
        types = {o.get("type") for o in options}
        base = {k: v for k, v in prop.items() if k != "anyOf"}
        if "number" in types or "integer" in types:
            # Money may be given as a number or a decimal string: a number input.
            number = next(o for o in options if o.get("type") in ("number", "integer"))
            prop = {**number, **base, "type": "number"}
        else:
            prop = {**options[0], **base}
    return prop, nullable


def _leaf_field(name: str, prop: dict[str, Any], nullable: bool) -> forms.Field:
    label = prop.get("title") or name
    help_text = prop.get("description", "")
    common: dict[str, Any] = {"label": label, "help_text": help_text, "required": False}
    kind = prop.get("type")
    if kind == "boolean":
        return forms.BooleanField(widget=UnfoldBooleanSwitchWidget, **common)
    if kind == "integer":
        return forms.IntegerField(
            min_value=prop.get("minimum"),
            max_value=prop.get("maximum"),
            widget=UnfoldAdminIntegerFieldWidget,
            **common,
        )
    if kind == "number":
        return forms.DecimalField(
            min_value=prop.get("minimum"),
            max_value=prop.get("maximum"),
            widget=UnfoldAdminDecimalFieldWidget,
            **common,
        )
    if kind == "array":
        items = prop.get("items", {})
        if items.get("enum"):
            return forms.MultipleChoiceField(
                choices=[(v, v) for v in items["enum"]],
                widget=UnfoldAdminCheckboxSelectMultipleWidget,
                **common,
            )
        item_type = int if items.get("type") == "integer" else str
        return CommaSeparatedField(item_type=item_type, widget=UnfoldAdminTextInputWidget, **common)
    if prop.get("enum"):
        choices = [(v, v) for v in prop["enum"]]
        if nullable:
            choices = [("", "---------"), *choices]
        return forms.ChoiceField(choices=choices, widget=UnfoldAdminSelectWidget, **common)
    if prop.get("format") == "date":
        return forms.DateField(widget=UnfoldAdminDateWidget, **common)
    if "domain" in name:
        return forms.CharField(
            widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}), strip=False, **common
        )
    return forms.CharField(widget=UnfoldAdminTextInputWidget, **common)


def schema_fields(
    schema: dict[str, Any], *, node: dict[str, Any] | None = None, prefix: str = ""
) -> dict[str, tuple[forms.Field, dict[str, Any], bool]]:
    """Dotted property path -> (form field, resolved property, nullable), in schema order."""
    node = schema if node is None else node
    fields: dict[str, tuple[forms.Field, dict[str, Any], bool]] = {}
    for name, raw in node.get("properties", {}).items():
        prop, nullable = _resolve(schema, raw)
        path = f"{prefix}{name}"
        if prop.get("type") == "object" or "properties" in prop:
            fields.update(schema_fields(schema, node=prop, prefix=f"{path}."))
        else:
            fields[path] = (_leaf_field(name, prop, nullable), prop, nullable)
    return fields


def _get_path(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


class ManagerAssignmentForm(forms.ModelForm):
    """The assignment's own fields plus one field per configuration key of its manager.

    Config fields are named ``config__<dotted path>``. ``clean()`` validates the assembled
    configuration with the manager's ``Config`` (no write) and puts each error on its field;
    :attr:`config_data` is the configuration to save.
    """

    class Meta:
        model = ManagerAssignment
        fields = ("name", "sequence", "active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config_data: dict[str, Any] = {}
        self.schema_fields: dict[str, tuple[forms.Field, dict[str, Any], bool]] = {}
        instance = self.instance
        if instance.pk is None:
            return
        self.manager_class = registry.get(instance.kind, instance.manager_key)
        schema = self.manager_class.config_schema()
        self.schema_fields = schema_fields(schema)
        current = self.manager_class.validate_config(instance.config).model_dump(mode="json")
        for path, (field, _prop, _nullable) in self.schema_fields.items():
            name = CONFIG_PREFIX + path
            self.fields[name] = field
            self.initial.setdefault(name, _get_path(current, path))

    @classmethod
    def field_name(cls, path: str) -> str:
        return CONFIG_PREFIX + path

    def config_field_names(self) -> list[str]:
        return [CONFIG_PREFIX + p for p in self.schema_fields]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.schema_fields:
            return cleaned
        config: dict[str, Any] = {}
        for path, (_field, prop, nullable) in self.schema_fields.items():
            name = CONFIG_PREFIX + path
            if name in self.errors:
                continue
            value = cleaned.get(name)
            if value in (None, "") and prop.get("type") in ("integer", "number"):
                continue  # the manager's default applies
            if value in (None, "") and nullable:
                value = None
            elif isinstance(value, Decimal):
                value = str(value)
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            _set_path(config, path, value)
        if self.errors:
            return cleaned
        try:
            validated = self.manager_class.validate_config(config)
        except ValidationError as exc:
            self._add_config_errors(exc)
        else:
            self.config_data = validated.model_dump(mode="json")
        return cleaned

    def _add_config_errors(self, exc: ValidationError) -> None:
        messages = (
            exc.message_dict.get("config", exc.messages)
            if hasattr(exc, "error_dict")
            else exc.messages
        )
        for message in messages:
            path, sep, text = message.partition(": ")
            name = CONFIG_PREFIX + path
            if sep and name in self.fields:
                self.add_error(name, text)
            else:
                self.add_error(None, message)


class ManagerAssignmentAddForm(forms.ModelForm):
    """A new manager row: which program, kind and registered manager (configured afterwards)."""

    class Meta:
        model = ManagerAssignment
        fields = ("program", "kind", "manager_key", "name", "sequence", "active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keys = sorted(
            {
                key
                for kind, _label in ManagerAssignment._meta.get_field("kind").choices
                for key in registry.keys(kind)
            }
        )
        self.fields["manager_key"] = forms.ChoiceField(
            label=_("manager"),
            choices=[(k, k) for k in keys],
            widget=UnfoldAdminSelectWidget,
        )
