"""Follow-up's own settings (``BATON_FOLLOWUP_*``), on top of every service's ``BATON_*``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field

from baton_shared.service.settings import BatonSettings

from baton_followup.domain import RecoveryRules, TierRules


class FollowupSettings(BatonSettings):
    followup_satisfaction_delay_days: int = Field(
        7, ge=0, le=365, description="satisfaction check, days after acceptance"
    )
    followup_reactivation_after_days: int = Field(
        180, ge=1, le=3650, description="no new request for this long: wake the client up"
    )
    followup_decline_cool_down_days: int = Field(
        90, ge=0, le=3650, description="no offer of a declined kind for this long"
    )
    followup_outcome_review_after_days: int = Field(
        90, ge=1, le=3650, description="review a won offer's outcome after this long"
    )
    followup_program_lead_days: int = Field(
        14, ge=0, le=180, description="program follow-ups this many days before a deadline"
    )
    followup_key_account_share: float = Field(
        0.2, gt=0, le=1, description="top share of clients by revenue that are key accounts"
    )
    followup_key_account_revenue: Decimal | None = Field(
        Decimal("10000000"), ge=0, description="annual revenue that makes a key account whatever the ranking"
    )
    followup_key_review_days: int = Field(30, ge=1, le=365, description="key accounts: a review this often")
    followup_standard_review_days: int = Field(90, ge=1, le=730, description="other clients: a review this often")
    followup_next_needs_file: Path | None = Field(
        None, description="catalogue of next needs (TOML); default: the one shipped"
    )
    followup_program_fees_file: Path | None = Field(
        None, description="program fee tiers (TOML); default: the one shipped"
    )
    followup_complaint_deadlines_file: Path | None = Field(
        None, description="complaint deadlines by tier (TOML); default: the one shipped"
    )
    followup_complaint_check_seconds: float = Field(
        60, gt=0, le=86_400, description="how often complaint deadlines are checked"
    )
    followup_currency: str = Field("EUR", pattern="^[A-Z]{3}$")
    followup_rotation_warning_changes: int = Field(
        2,
        ge=0,
        le=100,
        description="reports: a client with more account-manager changes in 12 months is on the warning list",
    )
    followup_report_snapshot_seconds: float = Field(
        60,
        ge=0,
        le=3600,
        description="reports: a computation is kept this long for its pages (0: computed for every request)",
    )
    followup_recovery_key_working_days: int = Field(
        1, ge=0, le=30, description="a recovery for a key account is due this many working days after it opens"
    )
    followup_recovery_standard_working_days: int = Field(
        3, ge=0, le=30, description="a recovery for any other client is due this many working days after it opens"
    )
    followup_planner_seconds: float = Field(
        300, gt=0, le=86_400, description="how often tiers and dormancy are checked"
    )

    def tier_rules(self) -> TierRules:
        return TierRules(
            key_share=self.followup_key_account_share,
            key_revenue_threshold=self.followup_key_account_revenue,
            key_review_days=self.followup_key_review_days,
            standard_review_days=self.followup_standard_review_days,
        )

    def recovery_rules(self) -> RecoveryRules:
        return RecoveryRules(self.followup_recovery_key_working_days, self.followup_recovery_standard_working_days)
