from django.apps import AppConfig


class G2pRpcConfig(AppConfig):
    """Odoo-compatible JSON-RPC / XML-RPC API over the registry's services."""

    name = "addons.g2p_rpc"
    label = "g2p_rpc"
    verbose_name = "Odoo-compatible RPC API"
