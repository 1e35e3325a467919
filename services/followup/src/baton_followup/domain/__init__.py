"""Follow-up's domain: the relationship with each client and the rules it keeps. No I/O here."""

from baton_followup.domain.contact_policy import ContactState, Refusal, refusal
from baton_followup.domain.next_needs import NextNeedRule, next_needs
from baton_followup.domain.one_voice import ContactGroup, group_refusal, managed_elsewhere
from baton_followup.domain.programs import ProgramTerms, program_dates
from baton_followup.domain.recovery import RecoveryRules, add_working_days, is_unhappy
from baton_followup.domain.relationship import Money, PolicyRefused, Relationship
from baton_followup.domain.tiers import DEFAULT_FEE_TIERS, FeeTier, TierRules, monthly_fee, tier_by_rank, tier_for

__all__ = [
    "DEFAULT_FEE_TIERS",
    "ContactGroup",
    "ContactState",
    "FeeTier",
    "Money",
    "NextNeedRule",
    "PolicyRefused",
    "ProgramTerms",
    "RecoveryRules",
    "Refusal",
    "Relationship",
    "TierRules",
    "add_working_days",
    "group_refusal",
    "is_unhappy",
    "managed_elsewhere",
    "monthly_fee",
    "next_needs",
    "program_dates",
    "refusal",
    "tier_by_rank",
    "tier_for",
]
