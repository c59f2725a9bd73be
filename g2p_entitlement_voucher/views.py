"""Public keys (JWKS) and the service providers' verification and redemption page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from g2p_entitlement_voucher import keys, services


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(keys.jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("g2p_entitlement_voucher.redeem_voucher"):
        raise PermissionDenied
    context: dict[str, Any] = {"text": "", "reference": ""}
    if request.method == "POST":
        text = request.POST.get("voucher", "")
        context["text"] = text
        context["reference"] = request.POST.get("reference", "")
        if request.POST.get("action") == "redeem":
            try:
                voucher = services.voucher_redeem(
                    text=text, actor=request.user, reference=context["reference"]
                )
                context["redeemed"] = voucher
            except ValidationError as exc:
                context["refused"] = exc.message_dict.get("voucher", exc.messages)[0]
        context["result"] = services.voucher_verify(text=text, actor=request.user)
    status = 422 if context.get("refused") else 200
    return render(request, "g2p_entitlement_voucher/verify.html", context, status=status)
