from django.urls import path, re_path

from addons.g2p_rpc import views

urlpatterns = [
    path("jsonrpc", views.jsonrpc, name="rpc-jsonrpc"),
    re_path(r"^xmlrpc/2/(?P<service>common|object|db)$", views.xmlrpc_v2, name="rpc-xmlrpc2"),
    re_path(r"^xmlrpc/(?P<service>common|object|db)$", views.xmlrpc_legacy, name="rpc-xmlrpc"),
    path("web/webclient/version_info", views.version_info, name="rpc-version-info"),
    path("web/database/list", views.database_list, name="rpc-database-list"),
    path("web/session/authenticate", views.session_authenticate, name="rpc-authenticate"),
    path("web/session/get_session_info", views.session_get_info, name="rpc-session-info"),
    path("web/session/destroy", views.session_destroy, name="rpc-session-destroy"),
    path("web/dataset/call_kw", views.call_kw, name="rpc-call-kw"),
    path("web/dataset/call_kw/<str:model>/<str:method>", views.call_kw, name="rpc-call-kw-path"),
    path("web/dataset/call_button", views.call_button, name="rpc-call-button"),
    path("web/dataset/call_button/<path:path>", views.call_button, name="rpc-call-button-path"),
]
