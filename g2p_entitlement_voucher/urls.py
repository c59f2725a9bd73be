from django.urls import path

from g2p_entitlement_voucher import views

app_name = "g2p_voucher"
urlpatterns = [
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("verify/", views.verify, name="verify"),
]
