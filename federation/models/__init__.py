from federation.models.resource import Resource, ResourceVersion, WriteMethod

__all__ = ["Resource", "ResourceVersion", "WriteMethod"]
