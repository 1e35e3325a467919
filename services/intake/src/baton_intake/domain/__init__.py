from baton_intake.domain.client import Client
from baton_intake.domain.contact_groups import GROUPING_PURPOSE, contact_group, organisation_group
from baton_intake.domain.request import Request

__all__ = ["GROUPING_PURPOSE", "Client", "Request", "contact_group", "organisation_group"]
