"""Back-office forms of the registry: registrant forms, inline formsets and action forms.

The inline formsets evaluate each dropdown's choices once per formset (not once per row) and
label autocomplete fields from the rows already loaded, so a change form costs the same number
of queries for 5 members or 500. Membership formsets check the unique-kind rule ("Only one Head
is allowed per group") across all their rows and the open memberships outside the formset
before anything is written; a database trigger backs the rule for every other path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from django import forms
from django.contrib.admin.widgets import AutocompleteMixin, AutocompleteSelect
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.forms import PaginationInlineFormSet
from unfold.widgets import (
    UnfoldAdminFileFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextareaWidget,
)

from g2p_registry_base.models import GroupMembership, ImportMode, Registrant

IMPORT_EXTENSIONS = (".xlsx", ".csv")


# --------------------------------------------------------------------------------------------
# Registrant forms
# --------------------------------------------------------------------------------------------


class RegistrantAdminForm(forms.ModelForm):
    """Base form of the individual and group admins.

    ``pending_db_error`` is set (on a per-request subclass) when the database refused the
    previous attempt to save this very submission; the form then shows that error instead of
    saving, so the officer keeps what they typed.
    """

    is_group: ClassVar[bool] = False
    pending_db_error: ClassVar[ValidationError | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.instance.is_group = self.is_group
            self.instance.is_registrant = True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        error = self.pending_db_error
        if error is not None:
            if hasattr(error, "error_dict"):
                for field, messages in error.message_dict.items():
                    if field in self.fields:
                        self.add_error(field, messages)
                    else:
                        self.add_error(None, messages)
            else:
                self.add_error(None, error.messages)
        return cleaned or self.cleaned_data


class IndividualAdminForm(RegistrantAdminForm):
    is_group = False

    class Meta:
        model = Registrant
        fields = (
            "given_name",
            "family_name",
            "addl_name",
            "gender",
            "birthdate",
            "birthdate_not_exact",
            "birth_place",
            "civil_status",
            "occupation",
            "income",
            "registration_date",
            "company",
            "tags",
            "email",
            "address",
            "additional_g2p_info",
        )


class GroupAdminForm(RegistrantAdminForm):
    is_group = True

    class Meta:
        model = Registrant
        fields = (
            "name",
            "kind",
            "is_partial_group",
            "registration_date",
            "company",
            "tags",
            "email",
            "address",
            "additional_g2p_info",
        )


# --------------------------------------------------------------------------------------------
# Inlines
# --------------------------------------------------------------------------------------------


class PreloadedAutocompleteSelect(AutocompleteSelect):
    """Autocomplete select that labels its current value from the row already loaded.

    Django's widget runs one query per rendered row to label the selected option; the inline
    form passes the label of the (``select_related``) object in ``preloaded`` instead.
    """

    preloaded: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.preloaded = {}

    def optgroups(self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None) -> Any:
        selected = {str(v) for v in value if str(v) not in self.choices.field.empty_values}
        if not selected or not selected <= set(self.preloaded):
            return super().optgroups(name, value, attr)
        default: tuple[None, list[Any], int] = (None, [], 0)
        if not self.is_required:
            default[1].append(self.create_option(name, "", "", False, 0))
        for pk in sorted(selected):
            default[1].append(
                self.create_option(name, pk, self.preloaded[pk], True, len(default[1]))
            )
        return [default]


def _inner_widget(widget: forms.Widget) -> forms.Widget:
    return getattr(widget, "widget", widget)


class PreloadedFieldsForm(forms.ModelForm):
    """Inline form that labels its autocomplete fields from the already-loaded instance."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            return
        for name, field in self.fields.items():
            widget = _inner_widget(field.widget)
            if not isinstance(widget, PreloadedAutocompleteSelect):
                continue
            related = self.instance._meta.get_field(name)
            if not related.is_cached(self.instance):
                continue
            obj = getattr(self.instance, name)
            if obj is not None:
                widget.preloaded = {str(obj.pk): str(obj)}


class SharedChoicesInlineFormSet(PaginationInlineFormSet):
    """Inline formset whose dropdowns query their choices once for all rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._shared_choices: dict[str, list[Any]] = {}
        super().__init__(*args, **kwargs)

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form = super()._construct_form(i, **kwargs)
        self.share_choices(form)
        return form

    @property
    def empty_form(self) -> forms.Form:
        form = super().empty_form
        self.share_choices(form)
        return form

    def share_choices(self, form: forms.Form) -> None:
        for name, field in form.fields.items():
            widget = _inner_widget(field.widget)
            # Only visible dropdowns and checkbox lists: the hidden primary key and parent key
            # fields are ModelChoiceFields too, over every row of the table.
            if not isinstance(field, forms.ModelChoiceField):
                continue
            if not isinstance(widget, forms.widgets.ChoiceWidget) or isinstance(
                widget, AutocompleteMixin
            ):
                continue
            if name not in self._shared_choices:
                choices: Any = field.choices
                self._shared_choices[name] = [choice for choice in choices]
            field.choices = self._shared_choices[name]


class MembershipInlineFormSet(SharedChoicesInlineFormSet):
    """Memberships of a group (``fk_name="group"``) or of an individual (``"individual"``).

    ``clean()`` refuses a unique kind ("Head") held by two open memberships of one group,
    counting the rows of this formset as submitted and the open memberships of the same groups
    that are not in it (one query). The error is put on the ``kinds`` field of the rows that
    introduce the conflict.
    """

    def _group_id(self, form: forms.Form) -> int | None:
        if self.fk.name == "group":
            return self.instance.pk
        group = form.cleaned_data.get("group")
        return group.pk if group is not None else None

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        formset_pks: set[int] = set()
        holders: dict[tuple[int | None, int], list[Any]] = defaultdict(list)
        kind_names: dict[int, str] = {}
        for form in self.forms:
            if form.instance.pk:
                formset_pks.add(form.instance.pk)
            cleaned = getattr(form, "cleaned_data", None)
            if not cleaned or (self.can_delete and self._should_delete_form(form)):
                continue
            if cleaned.get("ended_date"):
                continue
            group_id = self._group_id(form)
            for kind in cleaned.get("kinds") or []:
                if kind.is_unique:
                    holders[(group_id, kind.pk)].append(form)
                    kind_names[kind.pk] = kind.name
        if not holders:
            return
        outside: dict[tuple[int | None, int], int] = defaultdict(int)
        group_ids = {g for g, _k in holders if g is not None}
        if group_ids:
            link = GroupMembership.kinds.through
            rows = (
                link.objects.filter(
                    groupmembership__group_id__in=group_ids,
                    groupmembership__ended_date__isnull=True,
                    membershipkind_id__in={k for _g, k in holders},
                )
                .exclude(groupmembership_id__in=formset_pks)
                .values_list("groupmembership__group_id", "membershipkind_id")
            )
            for group_id, kind_id in rows:
                outside[(group_id, kind_id)] += 1
        for key, forms_holding in holders.items():
            if len(forms_holding) + outside[key] <= 1:
                continue
            message = gettext("Only one %s is allowed per group") % kind_names[key[1]]
            culprits = [
                f
                for f in forms_holding
                if not f.instance.pk or {"kinds", "ended_date", "group"} & set(f.changed_data)
            ] or forms_holding
            for form in culprits:
                form.add_error("kinds", message)

    @staticmethod
    def unique_kinds_first_key(form: forms.Form) -> int:
        """Sort key that saves rows giving up a unique kind before rows taking one."""
        cleaned = getattr(form, "cleaned_data", {}) or {}
        takes_unique = not cleaned.get("ended_date") and any(
            k.is_unique for k in cleaned.get("kinds") or []
        )
        return 1 if takes_unique else 0


# --------------------------------------------------------------------------------------------
# Action forms
# --------------------------------------------------------------------------------------------


class DisableForm(forms.Form):
    """The reason asked for before disabling registrants (upstream's disable wizard)."""

    reason = forms.CharField(
        label=_("Reason for disabling"),
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        max_length=2000,
    )

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise ValidationError(_("A reason is required to disable a registrant."))
        return reason


class ImportUploadForm(forms.Form):
    """Upload of a registry file: an .xlsx or .csv file and what to do with invalid rows."""

    file = forms.FileField(label=_("File"), widget=UnfoldAdminFileFieldWidget)
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=ImportMode.choices,
        initial=ImportMode.ALL_OR_NOTHING,
        widget=UnfoldAdminSelectWidget,
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in IMPORT_EXTENSIONS:
            raise ValidationError(
                _("Upload an .xlsx or .csv file (got %(name)s).") % {"name": upload.name}
            )
        return upload
