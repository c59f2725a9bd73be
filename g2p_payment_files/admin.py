"""Back office of payment files: templates, the files of sent batches (download), and the
import of bank result files (upload with a report of each refused row).

Downloads and imports go through :mod:`g2p_payment_files.services`, which check the
permission server-side; the buttons are only shown to users who hold it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from g2p_payment_files import services
from g2p_payment_files.models import PaymentFile, PaymentFileConfig, ReconciliationImport

CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@admin.register(PaymentFileConfig)
class PaymentFileConfigAdmin(ModelAdmin):
    list_display = ("name", "file_format")
    search_fields = ("name",)


@admin.register(PaymentFile)
class PaymentFileAdmin(ModelAdmin):
    list_display = ("filename", "batch", "config", "row_count", "checksum", "created", "download")
    list_select_related = ("batch", "config")
    list_filter = ("config",)
    search_fields = ("filename", "batch__name", "checksum")
    exclude = ("content",)
    readonly_fields = ("batch", "config", "filename", "checksum", "row_count", "created")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).defer("content")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("download"))
    def download(self, obj: PaymentFile) -> str:
        if not getattr(self, "_can_download", False):
            return "-"
        url = reverse("admin:g2p_payment_files_paymentfile_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Download"))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        self._can_download = request.user.has_perm(services.PERM_DOWNLOAD)
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:file_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="g2p_payment_files_paymentfile_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, file_id: int) -> HttpResponse:
        try:
            payment_file = services.payment_file_for_download(file_id=file_id, actor=request.user)
        except PaymentFile.DoesNotExist:
            return HttpResponse(status=404)
        response = HttpResponse(
            bytes(payment_file.content),
            content_type=CONTENT_TYPES.get(
                payment_file.config.file_format, "application/octet-stream"
            ),
        )
        response["Content-Disposition"] = f'attachment; filename="{payment_file.filename}"'
        response["X-Checksum-SHA256"] = payment_file.checksum
        return response


class ResultUploadForm(forms.Form):
    file = forms.FileField(label=_("Bank result file (CSV or XLSX)"))
    dry_run = forms.BooleanField(
        label=_("Only check the file (change nothing)"), required=False, initial=True
    )


@admin.register(ReconciliationImport)
class ReconciliationImportAdmin(ModelAdmin):
    list_display = ("filename", "row_count", "reconciled", "imported_by", "created", "checksum")
    list_select_related = ("imported_by",)
    readonly_fields = ("filename", "checksum", "row_count", "reconciled", "imported_by", "created")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = extra_context or {}
        if request.user.has_perm(services.PERM_RECONCILE):
            extra_context["upload_url"] = reverse("admin:g2p_payment_files_reconcile")
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="g2p_payment_files_reconcile",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(services.PERM_RECONCILE):
            raise PermissionDenied
        result = None
        form = ResultUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            result = services.reconciliation_import(
                filename=upload.name,
                content=upload.read(),
                actor=request.user,
                dry_run=form.cleaned_data["dry_run"],
            )
            if result.already_imported:
                messages.warning(
                    request, gettext("This file was already imported; nothing changed.")
                )
            elif result.ok and not form.cleaned_data["dry_run"]:
                messages.success(request, gettext("%d payments reconciled.") % result.reconciled)
                return HttpResponseRedirect(
                    reverse("admin:g2p_payment_files_reconciliationimport_changelist")
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import a bank result file"),
            "opts": self.opts,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/g2p_payment_files/upload.html", context)
