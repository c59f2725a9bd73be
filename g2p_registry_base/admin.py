"""The registry back office: individuals, groups, imports and the configuration lists.

Organised like upstream's Registry menu (see ``pbms/unfold_conf.py``). Every write goes through
:mod:`g2p_registry_base.services` (which checks the actor's permission again) and every list is
a fixed number of queries whatever its size:

- list columns come from annotations (age, main ID, tags, member count), never per-row lookups;
- inline formsets share their dropdown choices and label autocomplete fields from rows loaded
  with ``select_related``;
- exports are one ``SELECT`` with aggregated subqueries (:mod:`g2p_registry_base.exports`).

Roles (:mod:`g2p_registry_base.roles`) are Django permissions, so the stock admin checks apply:
a registrar gets no delete button and a 403 on the delete URL, a viewer gets read-only forms
and a 403 on any POST, and the disable/enable actions exist only for holders of
``disable_registrant`` (the service refuses everyone else too).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, models
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    DropdownFilter,
    RangeDateFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.overrides import FORMFIELD_OVERRIDES_INLINE
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminSplitDateTimeVerticalWidget,
    UnfoldAdminTextareaWidget,
)

from g2p_registry_base import exports, services
from g2p_registry_base.choices import AGE_BANDS, MembershipStatus
from g2p_registry_base.forms import (
    DisableForm,
    GroupAdminForm,
    ImportUploadForm,
    IndividualAdminForm,
    MembershipInlineFormSet,
    PreloadedAutocompleteSelect,
    PreloadedFieldsForm,
    SharedChoicesInlineFormSet,
)
from g2p_registry_base.models import (
    Bank,
    BankAccount,
    Company,
    GenderType,
    Group,
    GroupKind,
    GroupMembership,
    IdType,
    ImportState,
    Individual,
    MembershipKind,
    PhoneNumber,
    Registrant,
    RegistrantId,
    RegistrantTag,
    RegistryImport,
    Relationship,
    RelationshipType,
    normalize_phone,
)
from g2p_registry_base.querysets import Age, birthdate_range_for_age
from g2p_registry_base.selectors import registrant_search

DISABLE_PERM = "g2p_registry_base.disable_registrant"


class DatabaseRuleError(Exception):
    """The database (a trigger or constraint) refused a save the forms had accepted."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(error)
        self.error = error


def _as_validation_error(exc: Exception) -> ValidationError:
    if isinstance(exc, IntegrityError):
        return services.validation_error_from_db(exc)
    if isinstance(exc, ValidationError):
        return exc
    return ValidationError(str(exc))


# --------------------------------------------------------------------------------------------
# List filters
# --------------------------------------------------------------------------------------------


class GenderFilter(DropdownFilter):
    title = _("gender")
    parameter_name = "gender"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(g.value, g.code) for g in GenderType.objects.order_by("code")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(gender_id=self.value())
        return queryset


class AgeBandFilter(DropdownFilter):
    """Age bands as birthdate ranges, so the filter uses the birthdate index."""

    title = _("age")
    parameter_name = "age"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, label, _lo, _hi in AGE_BANDS]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        for key, _label, low, high in AGE_BANDS:
            if self.value() == key:
                return queryset.filter(birthdate_range_for_age(min_age=low, max_age=high))
        return queryset


class TagFilter(DropdownFilter):
    """Registrants carrying a tag (an ``EXISTS`` on the link table: no duplicate rows)."""

    title = _("tag")
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(t.pk), t.name) for t in RegistrantTag.objects.order_by("name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value and str(value).isdigit():
            link = Registrant.tags.through.objects.filter(
                registrant_id=OuterRef("pk"), registranttag_id=int(value)
            )
            return queryset.filter(Exists(link))
        return queryset


class DisabledFilter(DropdownFilter):
    title = _("status")
    parameter_name = "disabled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", gettext("Disabled")), ("no", gettext("Enabled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(disabled__isnull=False)
        if self.value() == "no":
            return queryset.filter(disabled__isnull=True)
        return queryset


# --------------------------------------------------------------------------------------------
# Inlines
# --------------------------------------------------------------------------------------------


def _unwrapped(widget: Any) -> Any:
    """The widget without the admin's add/change/view buttons (short fixed lists)."""
    return getattr(widget, "widget", widget)


class RegistryInline(TabularInline):
    formset = SharedChoicesInlineFormSet
    form = PreloadedFieldsForm
    extra = 0
    hide_title = True
    preloaded_autocomplete: tuple[str, ...] = ()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in self.preloaded_autocomplete and "widget" not in kwargs:
            kwargs["widget"] = PreloadedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_autocomplete_fields(self, request: HttpRequest) -> Sequence[str]:
        return self.preloaded_autocomplete


class RegistrantIdInline(RegistryInline):
    model = RegistrantId
    fields = ("id_type", "value", "expiry_date", "status", "description")
    verbose_name = _("ID")
    verbose_name_plural = _("IDs")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("id_type").order_by("pk")


class PhoneNumberInline(RegistryInline):
    model = PhoneNumber
    fields = ("phone_no", "country_code", "date_collected", "phone_sanitized", "disabled")
    readonly_fields = ("phone_sanitized", "disabled")
    verbose_name_plural = _("phone numbers")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).order_by("pk")


class BankAccountInline(RegistryInline):
    model = BankAccount
    fields = ("bank", "acc_number", "acc_holder_name")
    verbose_name_plural = _("bank accounts")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("bank").order_by("pk")


class RelationshipInline(RegistryInline):
    model = Relationship
    fk_name = "source"
    fields = ("destination", "relation", "start_date", "end_date", "disabled")
    readonly_fields = ("disabled",)
    preloaded_autocomplete = ("destination",)
    verbose_name = _("relationship")
    verbose_name_plural = _("others related to this registrant")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("source", "destination", "relation")
            .order_by("pk")
        )


class MembershipInlineBase(RegistryInline):
    model = GroupMembership
    formset = MembershipInlineFormSet

    formfield_overrides = {
        **FORMFIELD_OVERRIDES_INLINE,
        models.DateTimeField: {"widget": UnfoldAdminSplitDateTimeVerticalWidget},
    }

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "kinds":
            kwargs.setdefault("widget", UnfoldAdminCheckboxSelectMultipleWidget)
            kwargs.setdefault("queryset", MembershipKind.objects.order_by("name"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "kinds" and field is not None:
            field.widget = _unwrapped(field.widget)
        return field

    @display(description=_("status"), label={"Active": "success", "Ended": "warning"})
    def status_display(self, obj: GroupMembership) -> str:
        if not obj.pk:
            return ""
        return str(MembershipStatus(obj.status).label)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("group", "individual")
            .prefetch_related("kinds")
            .order_by(F("ended_date").asc(nulls_first=True), "pk")
        )


class GroupMemberInline(MembershipInlineBase):
    fk_name = "group"
    fields = ("individual", "kinds", "start_date", "ended_date", "status_display")
    readonly_fields = ("status_display",)
    preloaded_autocomplete = ("individual",)
    verbose_name = _("member")
    verbose_name_plural = _("members")


class IndividualMembershipInline(MembershipInlineBase):
    fk_name = "individual"
    fields = ("group", "kinds", "start_date", "ended_date", "status_display")
    readonly_fields = ("status_display",)
    preloaded_autocomplete = ("group",)
    verbose_name = _("group membership")
    verbose_name_plural = _("groups")


# --------------------------------------------------------------------------------------------
# Registrants
# --------------------------------------------------------------------------------------------


def _main_id_subquery() -> Subquery:
    """The oldest ID of the outer registrant as ``"<type>: <value>"`` (one subquery)."""
    return Subquery(
        RegistrantId.objects.filter(registrant=OuterRef("pk"))
        .order_by("pk")
        .values(text=Concat(F("id_type__name"), Value(": "), F("value")))[:1],
        output_field=models.CharField(),
    )


def _phone_like(term: str) -> bool:
    digits = sum(ch.isdigit() for ch in term)
    return digits >= 6 and all(ch.isdigit() or ch in "+-() ." for ch in term)


class RegistrantAdminBase(ModelAdmin):
    """What the individual and group admins share: search, saving through services, the
    disable/enable actions and buttons, exports and the audit history."""

    is_group = False
    list_per_page = 50
    show_full_result_count = False
    ordering = ("-id",)
    search_fields = ("name",)
    search_help_text = _("Name (contains), exact ID value, or phone number")
    list_filter_submit = True
    show_facets = admin.ShowFacets.NEVER  # per-filter counts over millions of rows are too slow
    actions = ("disable_registrants", "enable_registrants")
    actions_detail = ("disable_detail", "enable_detail")
    change_list_template = "admin/g2p_registry_base/registrant/change_list.html"
    change_form_outer_before_template = "admin/g2p_registry_base/registrant/disabled_banner.html"
    change_form_after_template = "admin/g2p_registry_base/registrant/panels.html"
    history_template = "admin/g2p_registry_base/registrant/history.html"
    disable_template = "admin/g2p_registry_base/registrant/disable.html"
    export_basename = "registrants"
    disabled_fields = ("disabled", "disabled_reason", "disabled_by")

    # -- queryset and search -----------------------------------------------------------------

    def base_queryset(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = self.base_queryset()
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        return qs

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = (search_term or "").strip()
        if not term:
            return queryset, False
        result = registrant_search(queryset=queryset, term=term)
        if _phone_like(term):
            # A local number with a trunk prefix ("0712 345 678") is neither the stored E.164
            # form nor a suffix of it: also match its E.164 form.
            try:
                e164 = normalize_phone(term)
            except ValidationError:
                e164 = ""
            digits = "".join(ch for ch in term if ch.isdigit())
            if e164 and not e164.endswith(digits) and e164 != term:
                phone = PhoneNumber.objects.filter(registrant=OuterRef("pk"), phone_sanitized=e164)
                result = result | queryset.filter(Exists(phone))
        return result, False

    # -- widgets -----------------------------------------------------------------------------

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "tags":
            kwargs.setdefault("widget", UnfoldAdminCheckboxSelectMultipleWidget)
            kwargs.setdefault("queryset", RegistrantTag.objects.order_by("name"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in ("address", "additional_g2p_info"):
            kwargs.setdefault("widget", UnfoldAdminTextareaWidget(attrs={"rows": 3}))
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "tags" and field is not None:
            field.widget = _unwrapped(field.widget)
        return field

    # -- permissions -------------------------------------------------------------------------

    def has_disable_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(DISABLE_PERM)

    # -- forms -------------------------------------------------------------------------------

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        return (*super().get_readonly_fields(request, obj), *self.disabled_fields)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(self.registrant_fieldsets())
        if obj is not None and obj.disabled:
            fieldsets.append((_("Disabled"), {"fields": self.disabled_fields}))
        return fieldsets

    def registrant_fieldsets(self) -> Sequence[Any]:
        raise NotImplementedError

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        from g2p_registry_base.panels import registrant_panels

        context["registrant_panels"] = registrant_panels(obj, request) if obj is not None else []
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        pending = getattr(request, "_g2p_pending_db_error", None)
        if pending is not None:
            form = type(form.__name__, (form,), {"pending_db_error": pending})
        return form

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DatabaseRuleError as exc:
            # The whole save was rolled back; show the same submission again with the
            # database's message, without saving.
            request._g2p_pending_db_error = exc.error  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        try:
            services.registrant_save(registrant=obj, actor=request.user)
        except (ValidationError, IntegrityError) as exc:
            raise DatabaseRuleError(_as_validation_error(exc)) from exc

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        try:
            super().save_related(request, form, formsets, change)
        except (ValidationError, IntegrityError) as exc:
            raise DatabaseRuleError(_as_validation_error(exc)) from exc

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        actor = request.user
        if isinstance(formset, MembershipInlineFormSet):
            for inline_form in sorted(formset.saved_forms, key=formset.unique_kinds_first_key):
                services.membership_save(
                    membership=inline_form.instance,
                    kinds=inline_form.cleaned_data.get("kinds") or [],
                    actor=actor,
                )
            return
        for inline_form in formset.saved_forms:
            obj = inline_form.instance
            if isinstance(obj, RegistrantId):
                services.reg_id_save(reg_id=obj, actor=actor)
            elif isinstance(obj, PhoneNumber):
                services.phone_save(phone=obj, actor=actor)
            elif isinstance(obj, Relationship):
                services.relationship_save(relationship=obj, actor=actor)
            else:
                obj.save()
            inline_form.save_m2m()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.registrant_delete(registrant=obj, actor=request.user)

    # -- list columns ------------------------------------------------------------------------

    @display(description=_("tags"), label=True)
    def tags_display(self, obj: Registrant) -> list[str]:
        return list(getattr(obj, "tag_names", None) or [])

    @display(description=_("status"), label={"disabled": "danger"}, ordering="disabled")
    def disabled_display(self, obj: Registrant) -> Any:
        return ("disabled", gettext("Disabled")) if obj.disabled else ""

    @display(description=_("main ID"))
    def main_id_display(self, obj: Registrant) -> str:
        return getattr(obj, "main_id", None) or ""

    # -- disable / enable --------------------------------------------------------------------

    @action(description=_("Disable selected registrants"), permissions=["disable"])
    def disable_registrants(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = DisableForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            ids = list(queryset.values_list("pk", flat=True))
            try:
                count = services.registrants_disable(
                    registrant_ids=ids, reason=form.cleaned_data["reason"], actor=request.user
                )
            except ValidationError as exc:
                form.add_error("reason", exc.messages)
            else:
                self.message_user(
                    request,
                    gettext("%(n)d registrant(s) disabled.") % {"n": count},
                    messages.SUCCESS,
                )
                return None
        return self._disable_page(
            request,
            form=form,
            objects=queryset,
            bulk=True,
        )

    @action(description=_("Enable selected registrants"), permissions=["disable"])
    def enable_registrants(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = services.registrants_enable(registrant_ids=ids, actor=request.user)
        self.message_user(
            request, gettext("%(n)d registrant(s) enabled.") % {"n": count}, messages.SUCCESS
        )

    @action(
        description=_("Disable"),
        url_path="disable",
        permissions=["disable"],
        icon="block",
        variant=ActionVariant.DANGER,
    )
    def disable_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._get_object_or_404(request, object_id)
        change_url = reverse(self._urlname("change"), args=[obj.pk])
        if obj.disabled:
            self.message_user(
                request, gettext("This registrant is already disabled."), messages.WARNING
            )
            return HttpResponseRedirect(change_url)
        form = DisableForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.registrants_disable(
                    registrant_ids=[obj.pk], reason=form.cleaned_data["reason"], actor=request.user
                )
            except ValidationError as exc:
                form.add_error("reason", exc.messages)
            else:
                self.message_user(
                    request, gettext("%(name)s was disabled.") % {"name": obj}, messages.SUCCESS
                )
                return HttpResponseRedirect(change_url)
        return self._disable_page(request, form=form, objects=[obj], bulk=False, obj=obj)

    @action(
        description=_("Enable"),
        url_path="enable",
        permissions=["disable"],
        icon="check_circle",
        variant=ActionVariant.SUCCESS,
    )
    def enable_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._get_object_or_404(request, object_id)
        change_url = reverse(self._urlname("change"), args=[obj.pk])
        if request.method == "POST":
            services.registrants_enable(registrant_ids=[obj.pk], actor=request.user)
            self.message_user(
                request, gettext("%(name)s was enabled.") % {"name": obj}, messages.SUCCESS
            )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Enable %(name)s") % {"name": obj},
            "opts": self.opts,
            "object": obj,
            "change_url": change_url,
            "enable": True,
        }
        return TemplateResponse(request, self.disable_template, context)

    def get_actions_detail(self, request: HttpRequest, object_id: Any) -> list[Any]:
        actions = super().get_actions_detail(request, object_id)
        if not actions:
            return actions
        disabled = (
            self.base_queryset().filter(pk=object_id).values_list("disabled", flat=True).first()
            if str(object_id).isdigit()
            else None
        )
        hidden = "enable_detail" if disabled is None else "disable_detail"
        return [a for a in actions if not a.action_name.endswith(hidden)]

    def _disable_page(
        self,
        request: HttpRequest,
        *,
        form: DisableForm,
        objects: Iterable[Registrant] | QuerySet,
        bulk: bool,
        obj: Registrant | None = None,
    ) -> TemplateResponse:
        if isinstance(objects, QuerySet):
            count = objects.count()
            sample = list(objects.values_list("name", flat=True)[:20])
        else:
            sample = [o.name for o in objects]
            count = len(sample)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Disable registrants")
            if bulk
            else gettext("Disable %(name)s") % {"name": obj},
            "opts": self.opts,
            "form": form,
            "bulk": bulk,
            "object": obj,
            "count": count,
            "sample": sample,
            "more": max(count - len(sample), 0),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_name": request.POST.get("action", ""),
            "change_url": reverse(self._urlname("change"), args=[obj.pk]) if obj else None,
            "changelist_url": reverse(self._urlname("changelist")),
        }
        return TemplateResponse(request, self.disable_template, context)

    # -- urls, export ------------------------------------------------------------------------

    def _urlname(self, view: str) -> str:
        return f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{view}"

    def _get_object_or_404(self, request: HttpRequest, object_id: str) -> Registrant:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(gettext("No such registrant."))
        return obj

    def get_urls(self) -> list[Any]:
        info = (self.opts.app_label, self.opts.model_name)
        custom = [
            path(
                "export/<str:file_format>/",
                self.admin_site.admin_view(self.export_view),
                name=f"{info[0]}_{info[1]}_export",
            ),
        ]
        return custom + super().get_urls()

    def export_view(self, request: HttpRequest, file_format: str) -> HttpResponseBase:
        """The changelist as filtered and searched now, as CSV or XLSX (one query)."""
        if file_format not in ("csv", "xlsx"):
            raise Http404
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return redirect(self._urlname("changelist"))
        return exports.registrants_export_response(
            queryset=changelist.queryset,
            groups=self.is_group,
            file_format=file_format,
            basename=self.export_basename,
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        query = request.GET.copy()
        query.pop("p", None)
        query.pop("e", None)
        suffix = f"?{query.urlencode()}" if query else ""
        links = []
        if self.has_view_or_change_permission(request):
            for fmt, title, icon in (
                ("xlsx", _("Export XLSX"), "table_view"),
                ("csv", _("Export CSV"), "download"),
            ):
                url = reverse(self._urlname("export"), kwargs={"file_format": fmt})
                links.append({"title": title, "url": url + suffix, "icon": icon})
        extra_context = {**(extra_context or {}), "export_links": links}
        return super().changelist_view(request, extra_context)

    # -- history -----------------------------------------------------------------------------

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The pghistory audit trail of the registrant and what hangs on it."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        events = registrant_history(obj)
        paginator = Paginator(events, 50)
        page = paginator.get_page(request.GET.get("p", 1))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("History: %(name)s") % {"name": obj},
            "subtitle": None,
            "object": obj,
            "original": obj,
            "opts": self.opts,
            "page": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "paginator": paginator,
            "change_url": reverse(self._urlname("change"), args=[obj.pk]),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.history_template, context)


@admin.register(Individual)
class IndividualAdmin(RegistrantAdminBase):
    form = IndividualAdminForm
    is_group = False
    export_basename = "individuals"
    list_display = (
        "name",
        "gender",
        "age_display",
        "birthdate",
        "registration_date",
        "main_id_display",
        "tags_display",
        "disabled_display",
    )
    list_filter = (
        GenderFilter,
        AgeBandFilter,
        TagFilter,
        DisabledFilter,
        ("registration_date", RangeDateFilter),
    )
    readonly_fields = ("name", "age_display")
    inlines = (
        RegistrantIdInline,
        PhoneNumberInline,
        IndividualMembershipInline,
        BankAccountInline,
        RelationshipInline,
    )

    def base_queryset(self) -> QuerySet:
        return (
            Individual.objects.individuals()
            .select_related("gender")
            .annotate(
                age_years=Age(F("birthdate")),
                main_id=_main_id_subquery(),
                tag_names=exports.tags_subquery(),
            )
        )

    def registrant_fieldsets(self) -> Sequence[Any]:
        return (
            (None, {"fields": (("given_name", "family_name"), ("addl_name", "name"))}),
            (
                _("Personal details"),
                {
                    "fields": (
                        ("gender", "birth_place"),
                        ("birthdate", "birthdate_not_exact"),
                        ("age_display", "civil_status"),
                        ("occupation", "income"),
                    )
                },
            ),
            (_("Registration"), {"fields": (("registration_date", "company"), "tags")}),
            (_("Contact"), {"fields": ("email", "address")}),
            (_("Additional information"), {"fields": ("additional_g2p_info",)}),
        )

    @display(description=_("age"), ordering="age_years")
    def age_display(self, obj: Registrant) -> Any:
        if hasattr(obj, "age_years"):
            return obj.age_years
        return obj.age if obj.pk else None


@admin.register(Group)
class GroupAdmin(RegistrantAdminBase):
    form = GroupAdminForm
    is_group = True
    export_basename = "groups"
    list_display = (
        "name",
        "kind",
        "member_count_display",
        "registration_date",
        "tags_display",
        "disabled_display",
    )
    list_filter = (
        ("kind", RelatedDropdownFilter),
        TagFilter,
        DisabledFilter,
        ("registration_date", RangeDateFilter),
    )
    list_select_related = ("kind",)
    readonly_fields = ("member_count_display",)
    inlines = (
        GroupMemberInline,
        RegistrantIdInline,
        PhoneNumberInline,
        BankAccountInline,
        RelationshipInline,
    )

    def base_queryset(self) -> QuerySet:
        return (
            Group.objects.groups()
            .with_member_count()
            .select_related("kind")
            .annotate(tag_names=exports.tags_subquery())
        )

    def registrant_fieldsets(self) -> Sequence[Any]:
        return (
            (None, {"fields": (("name", "kind"), ("member_count_display", "is_partial_group"))}),
            (_("Registration"), {"fields": (("registration_date", "company"), "tags")}),
            (_("Contact"), {"fields": ("email", "address")}),
            (_("Additional information"), {"fields": ("additional_g2p_info",)}),
        )

    @display(description=_("members"), ordering="member_count")
    def member_count_display(self, obj: Registrant) -> Any:
        if not obj.pk:
            return None
        return getattr(obj, "member_count", None)


@admin.register(Registrant)
class RegistrantAdmin(ModelAdmin):
    """Hidden: serves the autocomplete of registrant fields and routes old links.

    The autocomplete offers individuals for a membership's ``individual``, groups for its
    ``group`` and any registrant elsewhere; the search is the registry search.
    """

    search_fields = ("name",)
    ordering = ("name",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = Registrant.objects.registrants()
        field = request.GET.get("field_name")
        if field == "individual":
            qs = qs.filter(is_group=False)
        elif field == "group":
            qs = qs.filter(is_group=True)
        return qs.order_by("name", "pk")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        return registrant_search(queryset=queryset, term=search_term), False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return redirect("admin:g2p_registry_base_individual_changelist")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        is_group = (
            Registrant.objects.filter(pk=unquote(object_id))
            .values_list("is_group", flat=True)
            .first()
            if str(object_id).isdigit()
            else None
        )
        if is_group is None:
            raise Http404
        model = "group" if is_group else "individual"
        return redirect(f"admin:g2p_registry_base_{model}_change", object_id)


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------

REGISTRANT_EVENT_MODELS = (
    "g2p_registry_base.RegistrantEvent",
    "g2p_registry_base.RegistrantIdEvent",
    "g2p_registry_base.PhoneNumberEvent",
    "g2p_registry_base.BankAccountEvent",
    "g2p_registry_base.GroupMembershipEvent",
    "g2p_registry_base.RelationshipEvent",
    "g2p_registry_base.RegistrantTagLinkEvent",
)
HISTORY_LIMIT = 5000
_HIDDEN_HISTORY_FIELDS = {"id", "create_date", "write_date", "is_registrant"}


def registrant_history(obj: Registrant) -> list[dict[str, Any]]:
    """Audit events of ``obj`` and of its IDs, phones, memberships (and their roles), bank
    accounts and relationships, newest first, as rows ready to display.

    A fixed number of queries: one aggregate query over the registrant's event tables, one for
    the role changes of its memberships, one for the users, and one per kind of referenced
    object to label foreign keys.
    """
    from django.apps import apps
    from pghistory.models import Events

    events = list(
        Events.objects.across(*REGISTRANT_EVENT_MODELS)
        .references(obj)
        .order_by("-pgh_created_at", "-pgh_id")[:HISTORY_LIMIT]
    )
    membership_ids = {
        int(e.pgh_obj_id)
        for e in events
        if e.pgh_model == "g2p_registry_base.GroupMembershipEvent" and e.pgh_obj_id
    }
    if membership_ids:
        events += list(
            Events.objects.across("g2p_registry_base.MembershipKindLinkEvent")
            .references([GroupMembership(pk=pk) for pk in sorted(membership_ids)])
            .order_by("-pgh_created_at", "-pgh_id")[:HISTORY_LIMIT]
        )
    # Events of one transaction share a timestamp: show the registrant's own event first, then
    # what hangs on it, newest first within each table.
    events.sort(key=lambda e: (-e.pgh_created_at.timestamp(), _model_rank(e.pgh_model), -e.pgh_id))

    # Resolve foreign keys and users in one query per related model.
    wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
    user_model = get_user_model()
    plans: list[tuple[Any, dict[str, models.Field]]] = []
    for event in events:
        event_model = apps.get_model(event.pgh_model)
        columns = {
            f.column: f for f in event_model._meta.concrete_fields if not f.name.startswith("pgh_")
        }
        plans.append((event, columns))
        context_user = (event.pgh_context or {}).get("user")
        if context_user is not None:
            wanted[user_model].add(context_user)
        payloads = [event.pgh_data or {}]
        payloads += [{k: v for k, pair in (event.pgh_diff or {}).items() for v in [pair[0]]}]
        payloads += [{k: v for k, pair in (event.pgh_diff or {}).items() for v in [pair[1]]}]
        for payload in payloads:
            for column, value in payload.items():
                field = columns.get(column)
                if field is not None and _labelled_fk(field) and value is not None:
                    wanted[field.related_model].add(value)
    labels: dict[type[models.Model], dict[str, str]] = {}
    for model, pks in wanted.items():
        manager: Any = model._base_manager
        if model is user_model:
            labels[model] = {str(u.pk): u.get_username() for u in manager.filter(pk__in=pks)}
        elif model is Registrant:
            labels[model] = {
                str(pk): name for pk, name in manager.filter(pk__in=pks).values_list("pk", "name")
            }
        else:
            labels[model] = {str(o.pk): str(o) for o in manager.filter(pk__in=pks)}

    def show(field: models.Field | None, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if isinstance(field, models.DateTimeField) and isinstance(value, str):
            parsed = parse_datetime(value)
            if parsed is not None:
                return timezone.localtime(parsed).strftime("%Y-%m-%d %H:%M")
        if field is not None and _labelled_fk(field):
            related: Any = field.related_model
            return labels.get(related, {}).get(str(value), f"#{value}")
        if isinstance(value, bool):
            return gettext("yes") if value else gettext("no")
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return str(value)

    rows = []
    for event, columns in plans:
        tracked = apps.get_model(event.pgh_obj_model)
        label = event.pgh_label
        changes: list[dict[str, str]] = []
        if label == "update" and event.pgh_diff:
            order = {column: i for i, column in enumerate(columns)}
            diff = sorted(event.pgh_diff.items(), key=lambda kv: order.get(kv[0], len(order)))
            for column, (old, new) in diff:
                if column in _HIDDEN_HISTORY_FIELDS:
                    continue
                field = columns.get(column)
                changes.append(
                    {
                        "field": _field_label(field, column),
                        "old": show(field, old),
                        "new": show(field, new),
                    }
                )
        else:
            order = {column: i for i, column in enumerate(columns)}
            data = sorted(
                (event.pgh_data or {}).items(), key=lambda kv: order.get(kv[0], len(order))
            )
            for column, value in data:
                if (
                    column in _HIDDEN_HISTORY_FIELDS
                    or value is False
                    or value in (None, "", {}, [])
                ):
                    continue
                field = columns.get(column)
                if (
                    field is not None
                    and _labelled_fk(field)
                    and field.related_model is Registrant
                    and (str(value) == str(obj.pk) and tracked is not GroupMembership)
                ):
                    continue
                changes.append(
                    {"field": _field_label(field, column), "old": "", "new": show(field, value)}
                )
        if label == "update" and not changes:
            continue  # only bookkeeping columns (write_date) changed
        user_id = (event.pgh_context or {}).get("user")
        rows.append(
            {
                "when": event.pgh_created_at,
                "who": labels.get(user_model, {}).get(str(user_id), "")
                if user_id is not None
                else "",
                "url": (event.pgh_context or {}).get("url", ""),
                "label": label,
                "object": f"{capfirst(tracked._meta.verbose_name)}"
                + (
                    f" #{event.pgh_obj_id}"
                    if event.pgh_obj_id and tracked is not Registrant
                    else ""
                ),
                "changes": changes,
            }
        )
    return rows


def _model_rank(label: str) -> int:
    return (
        REGISTRANT_EVENT_MODELS.index(label)
        if label in REGISTRANT_EVENT_MODELS
        else len(REGISTRANT_EVENT_MODELS)
    )


def _labelled_fk(field: models.Field) -> bool:
    related = getattr(field, "related_model", None)
    if related is None or not field.many_to_one:
        return False
    # Gender is stored by its value, already readable; memberships are labelled by their id.
    remote: Any = field.remote_field
    return remote.field_name == related._meta.pk.name and related is not GroupMembership


def _field_label(field: models.Field | None, column: str) -> str:
    if field is None:
        return column
    return str(capfirst(field.verbose_name))


# --------------------------------------------------------------------------------------------
# Configuration lists
# --------------------------------------------------------------------------------------------


@admin.register(IdType)
class IdTypeAdmin(ModelAdmin):
    list_display = ("name", "id_validation", "description")
    search_fields = ("name",)


@admin.register(RegistrantTag)
class RegistrantTagAdmin(ModelAdmin):
    list_display = ("name", "color", "active")
    list_filter = ("active",)
    search_fields = ("name",)


@admin.register(GroupKind)
class GroupKindAdmin(ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(MembershipKind)
class MembershipKindAdmin(ModelAdmin):
    """Membership kinds; the seeded "Head" is protected (read-only, never deleted)."""

    list_display = ("name", "is_unique", "protected")
    readonly_fields = ("protected",)
    search_fields = ("name",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.protected:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.protected:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        protected = list(queryset.filter(protected=True).values_list("name", flat=True))
        if protected:
            self.message_user(
                request,
                gettext("Can't delete default kinds: %(names)s") % {"names": ", ".join(protected)},
                messages.ERROR,
            )
        queryset.filter(protected=False).delete()


@admin.register(RelationshipType)
class RelationshipTypeAdmin(ModelAdmin):
    list_display = ("name", "name_inverse", "bidirectional", "source_type", "destination_type")
    search_fields = ("name", "name_inverse")


@admin.register(GenderType)
class GenderTypeAdmin(ModelAdmin):
    list_display = ("code", "value", "active")
    list_filter = ("active",)
    search_fields = ("code", "value")


@admin.register(Bank)
class BankAdmin(ModelAdmin):
    list_display = ("name", "bic", "country_code")
    search_fields = ("name", "bic")


@admin.register(Company)
class CompanyAdmin(ModelAdmin):
    list_display = ("name", "country_code", "currency")
    search_fields = ("name",)


# --------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------


@admin.register(RegistryImport)
class RegistryImportAdmin(ModelAdmin):
    """Upload a registry file, preview its row errors, then import it (inline or as a job)."""

    list_display = (
        "file_name",
        "state_display",
        "mode",
        "rows_total",
        "rows_invalid",
        "created_count",
        "updated_count",
        "created_by",
        "created_at",
    )
    list_filter = ("state", "mode")
    list_select_related = ("created_by",)
    search_fields = ("file_name",)
    ordering = ("-id",)
    list_per_page = 50
    upload_template = "admin/g2p_registry_base/registryimport/upload.html"
    preview_template = "admin/g2p_registry_base/registryimport/preview.html"
    errors_per_page = 50

    @display(
        description=_("state"),
        label={
            ImportState.DRAFT: "info",
            ImportState.VALIDATED: "primary",
            ImportState.QUEUED: "warning",
            ImportState.RUNNING: "warning",
            ImportState.DONE: "success",
            ImportState.FAILED: "danger",
        },
    )
    def state_display(self, obj: RegistryImport) -> Any:
        return obj.state, obj.get_state_display()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("content", "errors")

    def get_urls(self) -> list[Any]:
        info = (self.opts.app_label, self.opts.model_name)
        wrap = self.admin_site.admin_view
        return [
            path(
                "template/<str:file_format>/",
                wrap(self.template_view),
                name=f"{info[0]}_{info[1]}_template",
            ),
            path(
                "<path:object_id>/confirm/",
                wrap(self.confirm_view),
                name=f"{info[0]}_{info[1]}_confirm",
            ),
            *super().get_urls(),
        ]

    def _urlname(self, view: str) -> str:
        return f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{view}"

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        from g2p_registry_base import imports

        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                registry_import = imports.registry_import_create(
                    file_name=upload.name,
                    content=upload.read(),
                    mode=form.cleaned_data["mode"],
                    actor=request.user,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                self.message_user(
                    request,
                    gettext("%(name)s uploaded: check the preview, then import it.")
                    % {"name": registry_import.file_name},
                    messages.SUCCESS,
                )
                return redirect(self._urlname("change"), registry_import.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import registry file"),
            "opts": self.opts,
            "form": form,
            "template_links": self._template_links(),
            "changelist_url": reverse(self._urlname("changelist")),
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.upload_template, context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        if request.method == "POST":
            raise PermissionDenied
        error_rows = [_error_row(e) for e in (obj.errors or [])]
        paginator = Paginator(error_rows, self.errors_per_page)
        page = paginator.get_page(request.GET.get("p", 1))
        job = obj.job
        can_confirm = self.has_add_permission(request) and obj.state == ImportState.VALIDATED
        context = {
            **self.admin_site.each_context(request),
            "title": str(obj.file_name),
            "opts": self.opts,
            "original": obj,
            "object": obj,
            "page": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "paginator": paginator,
            "job": job,
            "job_percent": job.percent if job else None,
            "can_confirm": can_confirm,
            "confirm_url": reverse(self._urlname("confirm"), args=[obj.pk]),
            "template_links": self._template_links(),
            "changelist_url": reverse(self._urlname("changelist")),
            "has_delete_permission": self.has_delete_permission(request, obj),
            "delete_url": reverse(self._urlname("delete"), args=[obj.pk]),
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.preview_template, context)

    def confirm_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return redirect(self._urlname("change"), object_id)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_add_permission(request):  # the right the import service requires
            raise PermissionDenied
        from g2p_registry_base import imports

        try:
            result = imports.registry_import_confirm(registry_import=obj, actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                self.message_user(request, message, messages.ERROR)
        else:
            obj = (
                result
                if isinstance(result, RegistryImport)
                else RegistryImport.objects.get(pk=obj.pk)
            )
            if obj.state == ImportState.DONE:
                self.message_user(
                    request,
                    gettext("Import finished: %(c)d created, %(u)d updated, %(i)d invalid rows.")
                    % {"c": obj.created_count, "u": obj.updated_count, "i": obj.rows_invalid},
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    gettext("Import %(state)s.") % {"state": obj.get_state_display()},
                    messages.INFO,
                )
        return redirect(self._urlname("change"), object_id)

    def template_view(self, request: HttpRequest, file_format: str) -> HttpResponse:
        if file_format not in ("xlsx", "csv"):
            raise Http404
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        from g2p_registry_base import imports

        content = imports.import_template(file_format)
        if isinstance(content, HttpResponse):
            return content
        if isinstance(content, str):
            content = content.encode("utf-8")
        content_type = (
            exports.XLSX_CONTENT_TYPE if file_format == "xlsx" else "text/csv; charset=utf-8"
        )
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = (
            f'attachment; filename="registry-import-template.{file_format}"'
        )
        return response

    def _template_links(self) -> list[dict[str, str]]:
        return [
            {
                "title": gettext("Template (XLSX)"),
                "url": reverse(self._urlname("template"), args=["xlsx"]),
            },
            {
                "title": gettext("Template (CSV)"),
                "url": reverse(self._urlname("template"), args=["csv"]),
            },
        ]


def _error_row(error: Any) -> dict[str, Any]:
    if isinstance(error, dict):
        return {
            "row": error.get("row", ""),
            "field": error.get("field", "") or "",
            "message": error.get("message", "") or error.get("error", ""),
        }
    if isinstance(error, list | tuple) and len(error) == 3:
        return {"row": error[0], "field": error[1], "message": error[2]}
    return {"row": "", "field": "", "message": str(error)}
