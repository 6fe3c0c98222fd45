"""Department data access: the adapter protocol, the generic kinds and the registry.

Knows nothing of GraphQL or HTTP serving; the gateway hands it a field catalogue
(type -> field -> scalar type) to validate specs against.
"""
