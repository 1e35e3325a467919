from baton_intake.domain.client import Client
from baton_intake.domain.request import Request

__all__ = ["Client", "Request"]
