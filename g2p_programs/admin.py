"""The programs back office: programs, beneficiaries, managers, cycles and their
beneficiaries, entitlements, payments, funds and duplicates (upstream's "Programs" menu, see
``pbms/unfold_conf.py``).

Every workflow button and list action is a thin caller of a service in
:mod:`g2p_programs.services`; the service checks the actor's permission and the record's state
again, and its :class:`~g2p_programs.results.Notification` (or the ``ValidationError`` /
``PermissionDenied`` it raised) is shown as the message. Buttons are shown only in the states
where they apply and only to users holding the permission the service requires; a button URL
opened with GET asks for confirmation, the change happens on POST.

Deleting (the form's delete view and the list's "Delete selected") goes through the delete-rule
services of :mod:`g2p_programs.services.records` (:class:`ServiceDeleteAdmin`): a selection is
deleted whole or, with the rule's message, not at all.

Lists are a fixed number of queries whatever their size: counts and totals are correlated
subqueries in the list query, related names come from ``select_related``. Beneficiaries and
cycle beneficiaries of disabled registrants are hidden (upstream's record rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.checks import UnfoldModelAdminChecks
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from g2p_programs import bulk, selectors
from g2p_programs.choices import (
    CycleMembershipState,
    CycleState,
    EntitlementState,
    FundState,
    MembershipState,
    PaymentState,
    ProgramState,
)
from g2p_programs.forms import ManagerAssignmentAddForm, ManagerAssignmentForm
from g2p_programs.models import (
    Cycle,
    CycleMembership,
    DuplicateGroup,
    DuplicateGroupMember,
    Entitlement,
    ManagerAssignment,
    Payment,
    PaymentBatch,
    PaymentBatchTag,
    Program,
    ProgramFund,
    ProgramMembership,
)
from g2p_programs.results import Notification
from g2p_programs.services import cycles as cycle_services
from g2p_programs.services import entitlements as entitlement_services
from g2p_programs.services import funds as fund_services
from g2p_programs.services import payments as payment_services
from g2p_programs.services import programs as program_services
from g2p_programs.services import records as record_services
from g2p_programs.services import updates as update_services
from pbms.models import JobState

P = "g2p_programs."
LEVELS = {
    "success": messages.SUCCESS,
    "warning": messages.WARNING,
    "danger": messages.ERROR,
    "info": messages.INFO,
}
MONEY = DecimalField(max_digits=16, decimal_places=2)


def count_of(model: Any, fk: str, **filters: Any) -> Coalesce:
    """``COUNT(*)`` of ``model`` rows pointing at the outer row: a correlated subquery."""
    rows = (
        model.objects.filter(**{fk: OuterRef("pk")}, **filters)
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def sum_of(model: Any, fk: str, column: str, **filters: Any) -> Coalesce:
    rows = (
        model.objects.filter(**{fk: OuterRef("pk")}, **filters)
        .order_by()
        .values(fk)
        .annotate(total=Sum(column))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=MONEY), Value(Decimal("0")), output_field=MONEY)


def refusal_text(exc: ValidationError | PermissionDenied) -> str:
    """The message of a service's refusal."""
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def workflow(
    description: Any,
    *,
    states: Iterable[str] | None,
    perms: Iterable[str],
    run: Callable[[Any, Any], Notification | str],
    icon: str | None = None,
    variant: ActionVariant = ActionVariant.DEFAULT,
    url_path: str,
    show_if: Callable[[Any], bool] | None = None,
) -> Any:
    """A detail button that calls ``run(obj, user)`` (a service) on POST.

    ``states``: the record states in which the button is shown (None = always); ``perms``: the
    Django permissions the service requires (the button is hidden and its URL answers 403
    without them); ``show_if(obj)``: a further condition (one query at most), as upstream's
    view attributes. Hiding is a convenience: the service still refuses what does not apply.
    """

    @action(
        description=description,
        url_path=url_path,
        permissions=[*perms],
        icon=icon,
        variant=variant,
    )
    def method(self: WorkflowAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
        return self.run_workflow(request, object_id, description=description, run=run)

    method.__name__ = url_path.replace("-", "_")
    method.workflow_states = None if states is None else frozenset(states)  # type: ignore[attr-defined]
    method.workflow_show_if = show_if  # type: ignore[attr-defined]
    method.workflow_changes = True  # type: ignore[attr-defined]
    return method


class StaticPermissionChecks(UnfoldModelAdminChecks):
    """Unfold's admin checks with dotted action permissions (``app.codename``) verified against
    the models' declared permissions instead of the ``auth_permission`` table, which does not
    exist yet when ``migrate`` runs its system checks on a new database."""

    def _check_unfold_action_permission_methods(self, obj: Any) -> list[Any]:
        from django.apps import apps
        from django.core import checks

        errors = []
        for act in (
            *obj._get_base_actions_list(),
            *obj._get_base_actions_detail(),
            *obj._get_base_actions_row(),
            *obj._get_base_actions_submit_line(),
        ):
            for permission in getattr(act.method, "allowed_permissions", ()):
                if "." in permission:
                    app_label, codename = permission.split(".", 1)
                    known = {
                        f"{verb}_{model._meta.model_name}"
                        for model in apps.get_app_config(app_label).get_models()
                        for verb in model._meta.default_permissions
                    } | {
                        name
                        for model in apps.get_app_config(app_label).get_models()
                        for name, _label in model._meta.permissions
                    }
                    ok = codename in known
                else:
                    ok = hasattr(obj, f"has_{permission}_permission")
                if not ok:
                    errors.append(
                        checks.Error(
                            f"{obj.__class__.__name__}.{act.method.__name__}: unknown action "
                            f"permission {permission}.",
                            obj=obj.__class__,
                            id="admin.E129",
                        )
                    )
        return errors


class WorkflowAdmin(ModelAdmin):
    """Shared by admins with workflow buttons: state-dependent visibility, confirm + run."""

    checks_class = StaticPermissionChecks
    state_field = "state"
    # Lock flags that hide every workflow button while a background job holds the record (its
    # service would refuse with "Operation in progress: …"); read-only buttons stay.
    lock_fields: tuple[str, ...] = ()
    confirm_template = "admin/g2p_programs/confirm.html"

    def _urlname(self, view: str) -> str:
        return f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_actions_detail(self, request: HttpRequest, object_id: Any) -> list[Any]:
        actions = super().get_actions_detail(request, object_id)
        if not actions or not str(object_id).isdigit():
            return actions
        row = (
            self.model.objects.filter(pk=object_id)
            .values_list(self.state_field, *self.lock_fields)
            .first()
        )
        state, locked = (row[0], any(row[1:])) if row else (None, False)
        shown = []
        obj = None
        for act in actions:
            if locked and getattr(act.method, "workflow_changes", False):
                continue
            states = getattr(act.method, "workflow_states", None)
            if states is not None and state not in states:
                continue
            show_if = getattr(act.method, "workflow_show_if", None)
            if show_if is not None:
                obj = obj or self.model.objects.get(pk=object_id)
                if not show_if(obj):
                    continue
            shown.append(act)
        return shown

    def run_workflow(
        self,
        request: HttpRequest,
        object_id: str,
        *,
        description: Any,
        run: Callable[[Any, Any], Notification | str],
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        change_url = reverse(self._urlname("change"), args=[obj.pk])
        if request.method != "POST":
            context = {
                **self.admin_site.each_context(request),
                "title": f"{description}: {obj}",
                "opts": self.opts,
                "object": obj,
                "original": obj,
                "description": description,
                "change_url": change_url,
            }
            return TemplateResponse(request, self.confirm_template, context)
        try:
            result = run(obj, request.user)
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, refusal_text(exc), messages.ERROR)
        else:
            if isinstance(result, Notification):
                self.message_user(request, result.message, LEVELS.get(result.type, messages.INFO))
            else:
                self.message_user(request, result, messages.SUCCESS)
        return HttpResponseRedirect(change_url)


def notify_result(modeladmin: ModelAdmin, request: HttpRequest, call: Callable[[], Any]) -> None:
    """Run a list action's service call and show its notification or refusal."""
    try:
        result = call()
    except (ValidationError, PermissionDenied) as exc:
        modeladmin.message_user(request, refusal_text(exc), messages.ERROR)
        return
    if isinstance(result, Notification):
        modeladmin.message_user(request, result.message, LEVELS.get(result.type, messages.INFO))
    else:
        modeladmin.message_user(request, result, messages.SUCCESS)


class ServiceDeleteAdmin(ModelAdmin):
    """Deletion through a service that applies the model's delete rules.

    ``delete_records(request, ids)`` calls the service; it deletes the whole selection or, when
    one record may not go, raises ``ValidationError`` with the rule's message and deletes
    nothing. The form's delete view and the list's "Delete selected" action keep Django's
    confirmation page (and its admin log entries, rolled back with a refusal); on refusal the
    message is shown and the user is sent back to the form or list. With
    ``show_delete_result`` the service's own message is shown too (e.g. what went with the
    records).
    """

    show_delete_result = False

    def delete_records(self, request: HttpRequest, ids: list[int]) -> Notification | None:
        raise NotImplementedError

    def _after_delete(self, request: HttpRequest, result: Notification | None) -> None:
        if self.show_delete_result and isinstance(result, Notification):
            self.message_user(request, result.message, messages.INFO)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._after_delete(request, self.delete_records(request, [obj.pk]))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        self._after_delete(request, self.delete_records(request, ids))

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as exc:  # the rule refused; Django's transaction rolled back
            self.message_user(request, refusal_text(exc), messages.ERROR)
            return HttpResponseRedirect(
                reverse(
                    f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=[unquote(object_id)],
                )
            )

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        # Django sends users who may not change records to the index; a read-only list is
        # where they came from.
        response = super().response_delete(request, obj_display, obj_id)
        if (
            isinstance(response, HttpResponseRedirect)
            and not self.has_change_permission(request)
            and self.has_view_permission(request)
        ):
            return HttpResponseRedirect(reverse(self._changelist_urlname()))
        return response

    def _changelist_urlname(self) -> str:
        return f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist"

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (
                ServiceDeleteAdmin.delete_selected_by_rules,
                name,
                description,
            )
        return actions

    def delete_selected_by_rules(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        """Django's "Delete selected" (confirmation page, log entries, success message) with
        the deletion done by :meth:`delete_records`; a refusal rolls it all back."""
        try:
            with transaction.atomic():
                return django_delete_selected(self, request, queryset)  # type: ignore[no-any-return]
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, refusal_text(exc), messages.ERROR)
            return None


def operation_label(key: str) -> str:
    """What an officer calls a background operation: its lock reason (upstream's wording)."""
    operation = bulk.OPERATIONS.get(key)
    return operation.lock_reason if operation is not None else key


class JobProgressFormMixin(ModelAdmin):
    """Program and cycle forms show the newest background job of the object (one query): its
    progress in the lock banner while it runs, and its outcome once it has finished."""

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        obj = context.get("original")
        progress = None
        if obj is not None and obj.pk is not None:
            progress = selectors.job_progress_latest(holder=obj)
        context["job_progress"] = progress
        if progress is not None:
            context["job_progress_label"] = operation_label(progress.operation)
            context["job_progress_running"] = progress.state in (
                JobState.QUEUED,
                JobState.RUNNING,
            )
        return super().render_change_form(request, context, *args, **kwargs)


# --------------------------------------------------------------------------------------------
# Programs
# --------------------------------------------------------------------------------------------


class ManagerAssignmentInline(TabularInline):
    model = ManagerAssignment
    fields = ("kind", "manager_key", "name", "sequence", "active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    tab = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _program_end(program: Program, user: Any) -> str:
    program_services.program_end(program=program, actor=user)
    return gettext("Program %s ended.") % program.name


def _program_reactivate(program: Program, user: Any) -> str:
    program_services.program_reactivate(program=program, actor=user)
    return gettext("Program %s re-activated.") % program.name


def _create_cycle(program: Program, user: Any) -> Notification:
    _cycle, notification = cycle_services.program_create_new_cycle(program=program, actor=user)
    return notification


ACTIVE = (ProgramState.ACTIVE,)


class _DryRun(Exception):
    pass


class ServiceUpdateAdmin(ModelAdmin):
    """Edits saved by an update service (``update(obj, values, user)``) instead of
    ``obj.save()``. The form runs the service once in a rolled-back savepoint while
    validating, so its refusals show on the fields they name; saving runs it for real with
    the changed fields only."""

    update_service: Callable[[Any, dict[str, Any], Any], Any]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        base = super().get_form(request, obj, change=change, **kwargs)
        update = type(self).update_service

        class ServiceForm(base):  # type: ignore[misc, valid-type]
            def clean(self) -> Any:
                cleaned = super().clean()
                if not self.instance.pk or self.errors:
                    return cleaned
                values = {n: cleaned[n] for n in self.changed_data if n in cleaned}
                try:
                    with transaction.atomic():
                        update(type(self.instance)(pk=self.instance.pk), values, request.user)
                        raise _DryRun
                except _DryRun:
                    pass
                except ValidationError as exc:
                    by_field = (
                        exc.error_dict if hasattr(exc, "error_dict") else {None: exc.error_list}
                    )
                    for field, errors in by_field.items():
                        for error in errors:
                            self.add_error(field if field in self.fields else None, error)
                return cleaned

        return ServiceForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        values = {n: form.cleaned_data[n] for n in form.changed_data if n in form.cleaned_data}
        type(self).update_service(obj, values, request.user)


@admin.register(Program)
class ProgramAdmin(JobProgressFormMixin, ServiceUpdateAdmin, WorkflowAdmin):
    lock_fields = ("locked",)
    list_display = ("name", "target_type", "state", "enrolled_count", "cycles_count")
    list_filter = ("state", "target_type")
    search_fields = ("name",)
    list_per_page = 50
    inlines = (ManagerAssignmentInline,)
    change_form_outer_before_template = "admin/g2p_programs/lock_banner.html"
    readonly_fields = (
        "state",
        "date_ended",
        "membership_counts",
        "fund_balance",
        "locked",
        "locked_reason",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "description",
                    "target_type",
                    "currency",
                    "separation_of_duties",
                    "state",
                    "date_ended",
                )
            },
        ),
        (_("Beneficiaries and funds"), {"fields": ("membership_counts", "fund_balance")}),
    )
    actions_detail = (
        "enroll_eligible",
        "verify_eligibility",
        "deduplicate",
        "create_new_cycle",
        "end_program",
        "reactivate_program",
        "fund_report_link",
    )

    enroll_eligible = workflow(
        _("Enroll Eligible Registrants"),
        states=ACTIVE,
        perms=[P + "change_programmembership"],
        run=lambda o, u: program_services.program_enroll_eligible(program=o, actor=u),
        icon="how_to_reg",
        url_path="enroll-eligible",
    )
    verify_eligibility = workflow(
        _("Verify Eligibility"),
        states=ACTIVE,
        perms=[P + "change_programmembership"],
        run=lambda o, u: program_services.program_verify_eligibility(program=o, actor=u),
        icon="fact_check",
        url_path="verify-eligibility",
    )
    deduplicate = workflow(
        _("Deduplicate"),
        states=ACTIVE,
        perms=[P + "change_programmembership", P + "add_duplicategroup"],
        run=lambda o, u: program_services.program_deduplicate(program=o, actor=u),
        icon="content_copy",
        url_path="deduplicate",
    )
    create_new_cycle = workflow(
        _("Create New Cycle"),
        states=ACTIVE,
        perms=[P + "add_cycle"],
        run=_create_cycle,
        icon="add_circle",
        url_path="create-new-cycle",
    )
    end_program = workflow(
        _("End Program"),
        states=ACTIVE,
        perms=[P + "change_program"],
        run=_program_end,
        icon="stop_circle",
        variant=ActionVariant.DANGER,
        url_path="end-program",
    )
    reactivate_program = workflow(
        _("Re-activate Program"),
        states=(ProgramState.ENDED,),
        perms=[P + "change_program"],
        run=_program_reactivate,
        icon="play_circle",
        url_path="reactivate",
    )

    @action(
        description=_("Fund report"),
        url_path="fund-report",
        permissions=[P + "view_programfund"],
        icon="account_balance",
    )
    def fund_report_link(self, request: HttpRequest, object_id: str) -> HttpResponse:
        program = self.get_object(request, unquote(object_id))
        if program is None:
            raise Http404
        report = fund_services.fund_report(program=program)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Fund report: %s") % program,
            "opts": self.opts,
            "original": program,
            "report": report,
            "lines": list(report.lines[:500]),
            "change_url": reverse(self._urlname("change"), args=[program.pk]),
        }
        return TemplateResponse(request, "admin/g2p_programs/fund_report.html", context)

    fund_report_link.workflow_states = None  # type: ignore[attr-defined]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                enrolled_n=count_of(ProgramMembership, "program", state=MembershipState.ENROLLED),
                cycles_n=count_of(Cycle, "program"),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("state", "date_ended", "membership_counts", "fund_balance")
        return self.readonly_fields

    @display(description=_("Enrolled"), ordering="enrolled_n")
    def enrolled_count(self, obj: Program) -> int:
        return obj.enrolled_n

    @display(description=_("Cycles"), ordering="cycles_n")
    def cycles_count(self, obj: Program) -> int:
        return obj.cycles_n

    @display(description=_("Beneficiaries by state"))
    def membership_counts(self, obj: Program) -> str:
        """Counts per state (one query), each a link to the beneficiaries list filtered by the
        program and that state; the total links to all of the program's beneficiaries."""
        if obj is None or obj.pk is None:
            return "-"
        counts = selectors.beneficiaries_count_by_state(program=obj)
        beneficiaries = reverse("admin:g2p_programs_programmembership_changelist")
        program_filter = f"{beneficiaries}?program__id__exact={obj.pk}"
        rows = [
            (str(s.label), s.value, f"{program_filter}&state__exact={s.value}", counts[s.value])
            for s in MembershipState
        ]
        rows.append((gettext("Total"), "total", program_filter, counts["total"]))
        return format_html(
            '<table class="membership-counts">{}</table>',
            format_html_join(
                "",
                '<tr><th class="pr-4 text-left">{}</th><td data-state="{}">'
                '<a class="text-primary-600" href="{}">{}</a></td></tr>',
                rows,
            ),
        )

    @display(description=_("Fund balance"))
    def fund_balance(self, obj: Program) -> str:
        if obj is None or obj.pk is None:
            return "-"
        balance = fund_services.program_fund_balance(program=obj)
        return f"{obj.currency} {balance:,.2f}"

    @staticmethod
    def update_service(obj: Program, values: dict[str, Any], user: Any) -> Any:
        return update_services.program_update(program=obj, values=values, actor=user)

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = program_services.program_create(
            name=obj.name,
            target_type=obj.target_type,
            currency=obj.currency,
            description=obj.description,
            actor=request.user,
        )
        for field in ("separation_of_duties",):
            if getattr(obj, field) != getattr(created, field):
                setattr(created, field, getattr(obj, field))
                created.save()
        obj.__dict__.update(created.__dict__)


# --------------------------------------------------------------------------------------------
# Beneficiaries (program memberships) and cycle beneficiaries
# --------------------------------------------------------------------------------------------


def registrant_link(registrant: Any) -> str:
    """The registrant's name linking to its individual or group form (read-only here)."""
    kind = "group" if registrant.is_group else "individual"
    return format_html(
        '<a class="text-primary-600" id="registrant-link" href="{}">{}</a>',
        reverse(f"admin:g2p_registry_base_{kind}_change", args=[registrant.pk]),
        registrant.name,
    )


def _membership_enroll(membership: ProgramMembership, user: Any) -> Notification | str:
    result = program_services.membership_enroll(membership=membership, actor=user)
    # Upstream returns nothing for an enrolled membership that is still eligible.
    return result or gettext("The beneficiary is already enrolled.")


def _membership_back_to_draft(membership: ProgramMembership, user: Any) -> str:
    program_services.membership_back_to_draft(membership=membership, actor=user)
    return gettext("The beneficiary is back to draft.")


MEMBERSHIP_CHECKABLE = (MembershipState.DRAFT, MembershipState.ENROLLED)


@admin.register(ProgramMembership)
class ProgramMembershipAdmin(WorkflowAdmin):
    """Upstream's "Beneficiaries" (``g2p.program_membership``). Memberships of disabled
    registrants are hidden, as upstream's record rule; memberships are added from the registry
    ("Add to Program") or by the program's enrolment, and change state through the buttons."""

    list_display = ("registrant", "program", "state", "enrollment_date")
    list_filter = ("program", "state")
    list_select_related = ("registrant", "program")
    search_fields = ("registrant__name",)
    list_per_page = 50
    fields = (
        "registrant_name",
        "program",
        "state",
        "enrollment_date",
        "exit_date",
        "create_date",
    )
    readonly_fields = fields
    actions_detail = ("enroll", "verify_eligibility", "deduplicate", "back_to_draft")

    enroll = workflow(
        _("Enroll"),
        states=(MembershipState.DRAFT,),
        perms=[P + "change_programmembership"],
        run=_membership_enroll,
        icon="how_to_reg",
        variant=ActionVariant.SUCCESS,
        url_path="enroll",
    )
    verify_eligibility = workflow(
        _("Verify Eligibility"),
        states=MEMBERSHIP_CHECKABLE,
        perms=[P + "change_programmembership"],
        run=lambda o, u: record_services.membership_verify_eligibility(membership=o, actor=u),
        icon="fact_check",
        url_path="verify-eligibility",
    )
    deduplicate = workflow(
        _("Deduplicate"),
        states=MEMBERSHIP_CHECKABLE,
        perms=[P + "change_programmembership", P + "add_duplicategroup"],
        # Upstream runs the program's deduplication managers over the whole program.
        run=lambda o, u: program_services.program_deduplicate(program=o.program, actor=u),
        icon="content_copy",
        url_path="deduplicate",
    )
    back_to_draft = workflow(
        _("Back to draft"),
        states=(MembershipState.NOT_ELIGIBLE, MembershipState.DUPLICATED),
        perms=[P + "change_programmembership"],
        run=_membership_back_to_draft,
        icon="undo",
        url_path="back-to-draft",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(registrant__disabled__isnull=True)

    def get_actions_detail(self, request: HttpRequest, object_id: Any) -> list[Any]:
        # Hidden memberships get no buttons (the base reads the state without the record rule).
        hidden = not self.get_queryset(request).filter(pk=object_id).exists()
        if str(object_id).isdigit() and hidden:
            return []
        return super().get_actions_detail(request, object_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # registrants are added to programs from the registry

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the form is read-only: the state changes through the buttons

    @display(description=_("Registrant"))
    def registrant_name(self, obj: ProgramMembership) -> str:
        return registrant_link(obj.registrant)


@admin.register(CycleMembership)
class CycleMembershipAdmin(ServiceDeleteAdmin):
    """Upstream's "Cycle Membership" (``g2p.cycle.membership``): a cycle's beneficiaries.

    Hidden for disabled registrants (record rule). Deleting follows upstream's rules through
    :func:`g2p_programs.services.records.cycle_memberships_delete`: only in a draft cycle and
    while the registrant's entitlement in it is not approved; that entitlement goes too.
    """

    list_display = ("registrant", "cycle", "cycle_program", "state", "enrollment_date")
    list_filter = ("cycle", "state")
    list_select_related = ("registrant", "cycle__program")
    search_fields = ("registrant__name",)
    list_per_page = 50
    fields = ("registrant_name", "cycle", "state", "enrollment_date")
    readonly_fields = fields
    show_delete_result = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(registrant__disabled__isnull=True)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # beneficiaries come from the program ("Copy Beneficiaries from Program")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # their state changes through the cycle's eligibility check

    @display(description=_("Program"), ordering="cycle__program__name")
    def cycle_program(self, obj: CycleMembership) -> str:
        return obj.cycle.program.name

    @display(description=_("Registrant"))
    def registrant_name(self, obj: CycleMembership) -> str:
        return registrant_link(obj.registrant)

    def delete_records(self, request: HttpRequest, ids: list[int]) -> Notification | None:
        return record_services.cycle_memberships_delete(membership_ids=ids, actor=request.user)


# --------------------------------------------------------------------------------------------
# Manager configuration
# --------------------------------------------------------------------------------------------


@admin.register(ManagerAssignment)
class ManagerAssignmentAdmin(ModelAdmin):
    list_display = ("program", "kind", "manager_key", "name", "sequence", "active")
    list_filter = ("kind", "active", "program")
    list_select_related = ("program",)
    readonly_fields = ("program", "kind", "manager_key")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = ManagerAssignmentAddForm
            return super().get_form(request, obj, change=change, **kwargs)
        kwargs["form"] = ManagerAssignmentForm
        kwargs["fields"] = ("name", "sequence", "active")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return (
                (
                    None,
                    {"fields": ("program", "kind", "manager_key", "name", "sequence", "active")},
                ),
            )
        form = ManagerAssignmentForm(instance=obj)
        return (
            (None, {"fields": ("program", "kind", "manager_key", "name", "sequence", "active")}),
            (_("Configuration"), {"fields": form.config_field_names()}),
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        stored = ManagerAssignment.objects.values_list("config", flat=True).get(pk=obj.pk)
        obj.config = stored
        super().save_model(request, obj, form, change)
        program_services.manager_configure(
            assignment=obj, config=form.config_data, actor=request.user
        )


# --------------------------------------------------------------------------------------------
# Cycles
# --------------------------------------------------------------------------------------------

DRAFT = (CycleState.DRAFT,)
TO_APPROVE = (CycleState.TO_APPROVE,)
APPROVED = (CycleState.APPROVED,)


def cash_setup(cycle: Cycle) -> selectors.CashSetup:
    """The cycle's program's :class:`~g2p_programs.selectors.CashSetup`, read once per cycle
    object (several buttons depend on it)."""
    setup = getattr(cycle, "_cash_setup", None)
    if setup is None:
        setup = selectors.program_cash_setup(program=cycle.program_id)
        cycle._cash_setup = setup  # type: ignore[attr-defined]
    return setup


@admin.register(Cycle)
class CycleAdmin(ServiceDeleteAdmin, JobProgressFormMixin, ServiceUpdateAdmin, WorkflowAdmin):
    lock_fields = ("locked", "program__locked")

    @staticmethod
    def update_service(obj: Cycle, values: dict[str, Any], user: Any) -> Any:
        return update_services.cycle_update(cycle=obj, values=values, actor=user)

    list_display = (
        "name",
        "program",
        "start_date",
        "end_date",
        "state",
        "members_count",
        "entitlements_total",
    )
    list_filter = ("state", "program")
    list_select_related = ("program",)
    search_fields = ("name",)
    list_per_page = 50
    change_form_outer_before_template = "admin/g2p_programs/cycle_header.html"
    fields = (
        "program",
        "name",
        "sequence",
        "start_date",
        "end_date",
        "state",
        "auto_approve_entitlements",
        "approved_date",
        "approved_by",
        "records",
    )
    readonly_fields = (
        "program",
        "sequence",
        "state",
        "auto_approve_entitlements",
        "approved_date",
        "approved_by",
        "records",
    )
    actions_detail = (
        "copy_beneficiaries",
        "check_eligibility",
        "prepare_entitlements",
        "to_approve",
        "approve",
        "reset_draft",
        "approve_entitlements",
        "prepare_payments",
        "send_payments",
        "print_summary",
        "mark_distributed",
        "mark_ended",
        "cancel",
    )

    copy_beneficiaries = workflow(
        _("Copy Beneficiaries from Program"),
        states=DRAFT,
        perms=[P + "change_cycle"],
        run=lambda o, u: cycle_services.cycle_copy_beneficiaries(cycle=o, actor=u),
        icon="group_add",
        url_path="copy-beneficiaries",
    )
    check_eligibility = workflow(
        _("Verify Eligibility"),
        states=DRAFT,
        perms=[P + "change_cyclemembership"],
        run=lambda o, u: cycle_services.cycle_check_eligibility(cycle=o, actor=u),
        icon="fact_check",
        url_path="check-eligibility",
    )
    prepare_entitlements = workflow(
        _("Prepare Entitlement"),
        states=DRAFT,
        perms=[P + "prepare_entitlements"],
        run=lambda o, u: entitlement_services.entitlements_prepare(cycle=o, actor=u),
        icon="receipt_long",
        url_path="prepare-entitlements",
    )
    to_approve = workflow(
        _("To Approve"),
        states=DRAFT,
        perms=[P + "change_cycle"],
        run=lambda o, u: cycle_services.cycle_to_approve(cycle=o, actor=u),
        icon="send",
        url_path="to-approve",
        show_if=lambda cycle: cycle.entitlements.exists(),
    )
    approve = workflow(
        _("Approve"),
        states=TO_APPROVE,
        perms=[P + "approve_cycle"],
        run=lambda o, u: cycle_services.cycle_approve(cycle=o, actor=u),
        icon="check_circle",
        variant=ActionVariant.SUCCESS,
        url_path="approve",
    )
    reset_draft = workflow(
        _("Reset to Draft"),
        states=TO_APPROVE,
        perms=[P + "change_cycle"],
        run=lambda o, u: cycle_services.cycle_reset_draft(cycle=o, actor=u),
        icon="undo",
        url_path="reset-draft",
    )
    approve_entitlements = workflow(
        _("Approve Entitlements"),
        states=APPROVED,
        perms=[P + "approve_entitlement"],
        run=lambda o, u: entitlement_services.entitlements_approve(cycle=o, actor=u),
        icon="verified",
        url_path="approve-entitlements",
        # Upstream hides it under auto-approval and once every entitlement is approved.
        show_if=lambda cycle: (
            not cycle.auto_approve_entitlements
            and cycle.entitlements.filter(
                state__in=[EntitlementState.DRAFT, EntitlementState.PENDING_VALIDATION]
            ).exists()
        ),
    )
    prepare_payments = workflow(
        _("Prepare Payments"),
        states=APPROVED,
        perms=[P + "prepare_payments"],
        run=lambda o, u: payment_services.payments_prepare(cycle=o, actor=u),
        icon="payments",
        url_path="prepare-payments",
        # Upstream's hide_cash: payments are for cash entitlements with a payment manager.
        show_if=lambda cycle: cash_setup(cycle).pays_cash,
    )
    send_payments = workflow(
        _("Send Payments"),
        states=APPROVED,
        perms=[P + "send_payments"],
        run=lambda o, u: payment_services.payments_send(cycle=o, actor=u),
        icon="send_money",
        url_path="send-payments",
        show_if=lambda cycle: (
            cash_setup(cycle).pays_cash
            and cycle.payments.filter(state=PaymentState.ISSUED).exists()
        ),
    )
    mark_distributed = workflow(
        _("Mark Distributed"),
        states=APPROVED,
        perms=[P + "change_cycle"],
        run=lambda o, u: cycle_services.cycle_mark_distributed(cycle=o, actor=u),
        icon="local_shipping",
        url_path="mark-distributed",
    )
    mark_ended = workflow(
        _("Set as Ended"),
        states=(CycleState.DISTRIBUTED,),
        perms=[P + "change_cycle"],
        run=lambda o, u: cycle_services.cycle_mark_ended(cycle=o, actor=u),
        icon="flag",
        url_path="mark-ended",
    )
    cancel = workflow(
        _("Cancel"),
        states=(CycleState.DRAFT, CycleState.TO_APPROVE, CycleState.APPROVED),
        perms=[P + "change_cycle"],
        run=lambda o, u: cycle_services.cycle_mark_cancelled(cycle=o, actor=u),
        icon="cancel",
        variant=ActionVariant.DANGER,
        url_path="cancel",
    )

    @action(
        description=_("Print Summary"),
        url_path="print-summary",
        permissions=["print_summary"],
        icon="print",
        attrs={"target": "_blank"},
    )
    def print_summary(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Upstream's "Print Summary" report as a printable page."""
        cycle = self.get_object(request, unquote(object_id))
        if cycle is None:
            raise Http404
        change_url = reverse(self._urlname("change"), args=[cycle.pk])
        try:
            summary = record_services.cycle_summary(cycle=cycle, actor=request.user)
        except ValidationError as exc:
            self.message_user(request, refusal_text(exc), messages.ERROR)
            return HttpResponseRedirect(change_url)
        context = {
            "title": gettext("Summary: %(program)s, %(cycle)s")
            % {"program": summary.program, "cycle": summary.cycle},
            "summary": summary,
            "change_url": change_url,
            "printed_at": timezone.now(),
        }
        return TemplateResponse(request, "admin/g2p_programs/cycle_summary.html", context)

    # Approved cycles of cash programs only (upstream); the role is checked by the permission.
    print_summary.workflow_states = frozenset(APPROVED)  # type: ignore[attr-defined]
    print_summary.workflow_show_if = lambda cycle: cash_setup(cycle).is_cash  # type: ignore[attr-defined]

    def has_print_summary_permission(self, request: HttpRequest, object_id: Any = None) -> bool:
        return request.user.has_perm(P + "view_cycle") and record_services.may_print_cycle_summary(
            request.user
        )

    @display(description=_("Records"))
    def records(self, obj: Cycle) -> str:
        """Links to the cycle's beneficiaries, entitlements and payments with their counts
        (upstream's smart buttons); one query."""
        if obj is None or obj.pk is None:
            return "-"
        counts = selectors.cycle_record_counts(cycle=obj)
        links = [
            ("cyclemembership", "beneficiaries", gettext("Beneficiaries")),
            ("entitlement", "entitlements", gettext("Entitlements")),
            ("payment", "payments", gettext("Payments")),
        ]
        return format_html_join(
            " ",
            '<a class="text-primary-600 mr-4" id="cycle-{}" href="{}?cycle__id__exact={}">'
            "{}: {}</a>",
            (
                (key, reverse(f"admin:g2p_programs_{model}_changelist"), obj.pk, label, counts[key])
                for model, key, label in links
            ),
        )

    def delete_records(self, request: HttpRequest, ids: list[int]) -> Notification | None:
        (cycle_id,) = ids  # the list's bulk deletion is not offered for cycles
        cycle_services.cycle_delete(cycle=Cycle(pk=cycle_id), actor=request.user)
        return None

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                members_n=count_of(CycleMembership, "cycle", state=CycleMembershipState.ENROLLED),
                entitlements_sum=sum_of(Entitlement, "cycle", "initial_amount"),
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # cycles are created by the program's "Create New Cycle"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.state != CycleState.DRAFT:
            return self.fields
        return self.readonly_fields

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        context["cycle_states"] = CycleState.choices
        return super().render_change_form(request, context, *args, **kwargs)

    @display(description=_("Members"), ordering="members_n")
    def members_count(self, obj: Cycle) -> int:
        return obj.members_n

    @display(description=_("Entitlements total"), ordering="entitlements_sum")
    def entitlements_total(self, obj: Cycle) -> str:
        return f"{obj.entitlements_sum:,.2f}"


# --------------------------------------------------------------------------------------------
# Entitlements and payments
# --------------------------------------------------------------------------------------------


@admin.register(Entitlement)
class EntitlementAdmin(ServiceDeleteAdmin):
    list_display = (
        "code",
        "registrant",
        "cycle",
        "initial_amount",
        "transfer_fee",
        "state",
        "valid_until",
    )
    list_filter = ("state", "program", "cycle")
    list_select_related = ("registrant", "cycle")
    search_fields = ("code", "registrant__name")
    list_per_page = 50
    actions = ("approve_selected",)
    readonly_fields = (
        "code",
        "registrant",
        "cycle",
        "program",
        "state",
        "date_approved",
        "approved_by",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # entitlements are prepared by the cycle's "Prepare Entitlement"

    def delete_records(self, request: HttpRequest, ids: list[int]) -> Notification | None:
        """Draft entitlements only; a mixed selection deletes nothing (upstream quirk 15
        fixed: it deleted the draft ones and silently kept the others)."""
        return record_services.entitlements_delete(entitlement_ids=ids, actor=request.user)

    def has_approve_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(P + "approve_entitlement")

    @action(description=_("Approve"), permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        notify_result(
            self,
            request,
            lambda: entitlement_services.entitlement_approve_selected(
                entitlement_ids=ids, actor=request.user
            ),
        )


@admin.register(Payment)
class PaymentAdmin(ServiceDeleteAdmin):
    list_display = (
        "name",
        "entitlement",
        "cycle",
        "batch",
        "amount_issued",
        "state",
        "status",
    )
    list_filter = ("state", "status", "cycle")
    list_select_related = ("entitlement", "cycle", "batch")
    search_fields = ("name",)
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # payments are prepared by the cycle's "Prepare Payments"

    def delete_records(self, request: HttpRequest, ids: list[int]) -> Notification | None:
        return record_services.payments_delete(payment_ids=ids, actor=request.user)


@admin.register(PaymentBatch)
class PaymentBatchAdmin(ServiceDeleteAdmin):
    list_display = (
        "name",
        "cycle",
        "tag",
        "batch_has_started",
        "batch_has_completed",
        "payments_count",
    )
    list_filter = ("batch_has_started", "batch_has_completed", "cycle")
    list_select_related = ("cycle", "tag")
    list_per_page = 50
    actions = ("send_batches",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(payments_n=count_of(Payment, "batch"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_send_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(P + "send_payments")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A batch goes with its payments.
        return super().has_delete_permission(request, obj) and request.user.has_perm(
            P + "delete_payment"
        )

    def delete_records(self, request: HttpRequest, ids: list[int]) -> Notification | None:
        return record_services.payment_batches_delete(batch_ids=ids, actor=request.user)

    @display(description=_("Payments"), ordering="payments_n")
    def payments_count(self, obj: PaymentBatch) -> int:
        return obj.payments_n

    @action(description=_("Send"), permissions=["send"])
    def send_batches(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        notify_result(
            self,
            request,
            lambda: payment_services.payment_batches_send(batch_ids=ids, actor=request.user),
        )


@admin.register(PaymentBatchTag)
class PaymentBatchTagAdmin(ModelAdmin):
    list_display = ("name", "order", "max_batch_size")


# --------------------------------------------------------------------------------------------
# Funds
# --------------------------------------------------------------------------------------------


@admin.register(ProgramFund)
class ProgramFundAdmin(ServiceDeleteAdmin, WorkflowAdmin):
    list_display = ("name", "program", "amount", "currency", "state", "date_posted")
    list_filter = ("state", "program")
    list_select_related = ("program",)
    list_per_page = 50
    fields = ("name", "program", "amount", "currency", "remarks", "date_posted", "state")
    actions_detail = ("post_fund", "cancel_fund", "reset_fund")

    post_fund = workflow(
        _("Post"),
        states=(FundState.DRAFT,),
        perms=[P + "post_fund"],
        run=lambda o, u: fund_services.fund_post(fund=o, actor=u),
        icon="publish",
        variant=ActionVariant.SUCCESS,
        url_path="post",
    )
    cancel_fund = workflow(
        _("Cancel"),
        states=(FundState.DRAFT,),
        perms=[P + "post_fund"],
        run=lambda o, u: fund_services.fund_cancel(fund=o, actor=u),
        icon="cancel",
        variant=ActionVariant.DANGER,
        url_path="cancel",
    )
    reset_fund = workflow(
        _("Reset to draft"),
        states=(FundState.CANCELLED,),
        perms=[P + "post_fund"],
        run=lambda o, u: fund_services.fund_reset_draft(fund=o, actor=u),
        icon="undo",
        url_path="reset-draft",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("name", "date_posted", "state")
        return self.fields

    def save_model(self, request: HttpRequest, obj: ProgramFund, form: Any, change: bool) -> None:
        created = fund_services.fund_create(
            program=obj.program, amount=obj.amount, actor=request.user, remarks=obj.remarks
        )
        obj.__dict__.update(created.__dict__)

    def delete_records(self, request: HttpRequest, ids: list[int]) -> Notification | None:
        return record_services.funds_delete(fund_ids=ids, actor=request.user)


# --------------------------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------------------------


class DuplicateGroupMemberInline(TabularInline):
    model = DuplicateGroupMember
    fields = ("membership",)
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("membership__registrant")


@admin.register(DuplicateGroup)
class DuplicateGroupAdmin(ModelAdmin):
    list_display = ("reason", "program", "state", "members_count", "create_date")
    list_filter = ("state", "program")
    list_select_related = ("program",)
    list_per_page = 50
    fields = ("program", "reason", "state", "comment", "create_date")
    readonly_fields = ("program", "reason", "state", "create_date")
    inlines = (DuplicateGroupMemberInline,)
    actions = ("mark_not_duplicate",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(members_n=count_of(DuplicateGroupMember, "duplicate_group"))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_clear_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(P + "change_duplicategroup") and request.user.has_perm(
            P + "change_programmembership"
        )

    @display(description=_("Members"), ordering="members_n")
    def members_count(self, obj: DuplicateGroup) -> int:
        return obj.members_n

    @action(description=_("Not duplicate"), permissions=["clear"])
    def mark_not_duplicate(self, request: HttpRequest, queryset: QuerySet) -> None:
        reset = 0
        for group in queryset.order_by("pk"):
            try:
                reset += program_services.duplicate_clear(duplicate_group=group, actor=request.user)
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{group}: {text}", messages.ERROR)
        self.message_user(
            request,
            gettext("%(n)d membership(s) reset to draft.") % {"n": reset},
            messages.SUCCESS,
        )
