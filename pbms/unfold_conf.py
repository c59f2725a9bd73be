"""Back-office theme and menu (django-unfold), organised like upstream's Registry menu."""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _


def _perm(codename: str):  # type: ignore[no-untyped-def]
    return lambda request: request.user.has_perm(codename)


UNFOLD = {
    "SITE_TITLE": "OpenG2P PBMS",
    "SITE_HEADER": "OpenG2P",
    "SITE_SUBHEADER": _("Program & Beneficiary Management"),
    "SITE_SYMBOL": "diversity_3",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "pbms.dashboard.dashboard_callback",
    "COLORS": {
        "primary": {
            "50": "oklch(97.7% .014 171)",
            "100": "oklch(94.6% .033 171)",
            "200": "oklch(90.5% .064 171)",
            "300": "oklch(84.5% .106 171)",
            "400": "oklch(76.5% .135 171)",
            "500": "oklch(69.6% .141 171)",
            "600": "oklch(59.6% .127 171)",
            "700": "oklch(50.8% .105 171)",
            "800": "oklch(43.2% .085 171)",
            "900": "oklch(37.8% .072 171)",
            "950": "oklch(27.7% .050 171)",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": [
            {
                "title": _("Registry"),
                "separator": True,
                "items": [
                    {
                        "title": _("Individuals"),
                        "icon": "person",
                        "link": reverse_lazy("admin:g2p_registry_base_individual_changelist"),
                        "permission": _perm("g2p_registry_base.view_individual"),
                    },
                    {
                        "title": _("Groups"),
                        "icon": "groups",
                        "link": reverse_lazy("admin:g2p_registry_base_group_changelist"),
                        "permission": _perm("g2p_registry_base.view_group"),
                    },
                    {
                        "title": _("Import"),
                        "icon": "upload_file",
                        "link": reverse_lazy("admin:g2p_registry_base_registryimport_changelist"),
                        "permission": _perm("g2p_registry_base.view_registryimport"),
                    },
                ],
            },
            {
                "title": _("Programs"),
                "separator": True,
                "items": [
                    {
                        "title": _("Programs"),
                        "icon": "volunteer_activism",
                        "link": reverse_lazy("admin:g2p_programs_program_changelist"),
                        "permission": _perm("g2p_programs.view_program"),
                    },
                    {
                        "title": _("Beneficiaries"),
                        "icon": "how_to_reg",
                        "link": reverse_lazy("admin:g2p_programs_programmembership_changelist"),
                        "permission": _perm("g2p_programs.view_programmembership"),
                    },
                    {
                        "title": _("Cycles"),
                        "icon": "event_repeat",
                        "link": reverse_lazy("admin:g2p_programs_cycle_changelist"),
                        "permission": _perm("g2p_programs.view_cycle"),
                    },
                    {
                        "title": _("Cycle beneficiaries"),
                        "icon": "group",
                        "link": reverse_lazy("admin:g2p_programs_cyclemembership_changelist"),
                        "permission": _perm("g2p_programs.view_cyclemembership"),
                    },
                    {
                        "title": _("Entitlements"),
                        "icon": "receipt_long",
                        "link": reverse_lazy("admin:g2p_programs_entitlement_changelist"),
                        "permission": _perm("g2p_programs.view_entitlement"),
                    },
                    {
                        "title": _("Payments"),
                        "icon": "payments",
                        "link": reverse_lazy("admin:g2p_programs_payment_changelist"),
                        "permission": _perm("g2p_programs.view_payment"),
                    },
                    {
                        "title": _("Payment batches"),
                        "icon": "inventory_2",
                        "link": reverse_lazy("admin:g2p_programs_paymentbatch_changelist"),
                        "permission": _perm("g2p_programs.view_paymentbatch"),
                    },
                    {
                        "title": _("Funds"),
                        "icon": "account_balance_wallet",
                        "link": reverse_lazy("admin:g2p_programs_programfund_changelist"),
                        "permission": _perm("g2p_programs.view_programfund"),
                    },
                    {
                        "title": _("Duplicates"),
                        "icon": "content_copy",
                        "link": reverse_lazy("admin:g2p_programs_duplicategroup_changelist"),
                        "permission": _perm("g2p_programs.view_duplicategroup"),
                    },
                ],
            },
            {
                "title": _("Configuration"),
                "separator": True,
                "collapsible": True,
                "items": [
                    {
                        "title": _("Payment batch tags"),
                        "icon": "sell",
                        "link": reverse_lazy("admin:g2p_programs_paymentbatchtag_changelist"),
                        "permission": _perm("g2p_programs.view_paymentbatchtag"),
                    },
                    {
                        "title": _("Program managers"),
                        "icon": "tune",
                        "link": reverse_lazy("admin:g2p_programs_managerassignment_changelist"),
                        "permission": _perm("g2p_programs.view_managerassignment"),
                    },
                    {
                        "title": _("ID types"),
                        "icon": "badge",
                        "link": reverse_lazy("admin:g2p_registry_base_idtype_changelist"),
                        "permission": _perm("g2p_registry_base.view_idtype"),
                    },
                    {
                        "title": _("Registrant tags"),
                        "icon": "sell",
                        "link": reverse_lazy("admin:g2p_registry_base_registranttag_changelist"),
                        "permission": _perm("g2p_registry_base.view_registranttag"),
                    },
                    {
                        "title": _("Relationships"),
                        "icon": "family_restroom",
                        "link": reverse_lazy("admin:g2p_registry_base_relationshiptype_changelist"),
                        "permission": _perm("g2p_registry_base.view_relationshiptype"),
                    },
                    {
                        "title": _("Gender types"),
                        "icon": "wc",
                        "link": reverse_lazy("admin:g2p_registry_base_gendertype_changelist"),
                        "permission": _perm("g2p_registry_base.view_gendertype"),
                    },
                    {
                        "title": _("Group types"),
                        "icon": "house",
                        "link": reverse_lazy("admin:g2p_registry_base_groupkind_changelist"),
                        "permission": _perm("g2p_registry_base.view_groupkind"),
                    },
                    {
                        "title": _("Group membership kinds"),
                        "icon": "supervisor_account",
                        "link": reverse_lazy("admin:g2p_registry_base_membershipkind_changelist"),
                        "permission": _perm("g2p_registry_base.view_membershipkind"),
                    },
                    {
                        "title": _("Banks"),
                        "icon": "account_balance",
                        "link": reverse_lazy("admin:g2p_registry_base_bank_changelist"),
                        "permission": _perm("g2p_registry_base.view_bank"),
                    },
                    {
                        "title": _("Companies"),
                        "icon": "domain",
                        "link": reverse_lazy("admin:g2p_registry_base_company_changelist"),
                        "permission": _perm("g2p_registry_base.view_company"),
                    },
                ],
            },
            {
                "title": _("Administration"),
                "separator": True,
                "collapsible": True,
                "items": [
                    {
                        "title": _("Users"),
                        "icon": "manage_accounts",
                        "link": reverse_lazy("admin:auth_user_changelist"),
                        "permission": _perm("auth.view_user"),
                    },
                    {
                        "title": _("Roles"),
                        "icon": "shield_person",
                        "link": reverse_lazy("admin:auth_group_changelist"),
                        "permission": _perm("auth.view_group"),
                    },
                    {
                        "title": _("Background jobs"),
                        "icon": "pending_actions",
                        "link": reverse_lazy("admin:pbms_jobprogress_changelist"),
                        "permission": _perm("pbms.view_jobprogress"),
                    },
                ],
            },
        ],
    },
}
