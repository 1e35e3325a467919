"""Follow-up's domain: the relationship with each client and the rules it keeps. No I/O here."""

from baton_followup.domain.contact_policy import ContactState, Refusal, refusal
from baton_followup.domain.next_needs import NextNeedRule, next_needs
from baton_followup.domain.one_voice import ContactGroup, group_refusal, managed_elsewhere
from baton_followup.domain.programs import ProgramTerms, program_dates
from baton_followup.domain.relationship import PolicyRefused, Relationship
from baton_followup.domain.tiers import DEFAULT_FEE_TIERS, FeeTier, TierRules, monthly_fee, tier_by_rank, tier_for

__all__ = [
    "DEFAULT_FEE_TIERS", "ContactGroup", "ContactState", "FeeTier", "NextNeedRule", "PolicyRefused", "ProgramTerms", "Refusal",
    "Relationship", "TierRules", "group_refusal", "managed_elsewhere", "monthly_fee", "next_needs", "program_dates", "refusal", "tier_by_rank", "tier_for",
]
