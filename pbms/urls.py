from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from addons.g2p_rest.api import api as rest_api
from pbms import __version__

admin.site.site_title = "OpenG2P PBMS"
admin.site.site_header = "OpenG2P"
admin.site.index_title = _("Overview")


def health(request: HttpRequest) -> HttpResponse:
    """Liveness probe for load balancers and ``g2p serve`` start-up."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "version": __version__})


urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("web", RedirectView.as_view(url="/admin/", permanent=False)),
    path("web/login", RedirectView.as_view(url="/admin/login/", permanent=False)),
    path("web/health", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/v1/", rest_api.urls),
    path("voucher/", include("g2p_entitlement_voucher.urls")),
    path("", include("addons.g2p_rpc.urls")),
]
