"""Clients: register, add nuances, change account manager and contact policy, read."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page, WriteOut
from baton_shared.service.inputs import NO_NUL

from baton_intake.api import dependencies as dep
from baton_intake.api.schemas import (
    AccountManagerIn,
    ClientIn,
    ClientOut,
    ClientSummary,
    ContactPolicyIn,
    NoteIn,
    ParentOrganisationIn,
    RevenueIn,
    TimelineEntry,
)
from baton_intake.application import (
    AddClientNote,
    AssignAccountManager,
    ChangeRevenue,
    GroupUnderParent,
    RegisterClient,
    SetContactPolicy,
)

router = APIRouter(prefix="/v1/clients", tags=["clients"])


@router.post("", status_code=201, response_model=WriteOut, summary="Register a client")
async def register_client(
    body: ClientIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=dep.clients_rule,
) -> WriteOut:
    dep.only_own(who, body.account_manager, "register a client")
    result = await app.register_client(
        RegisterClient(
            name=body.name,
            segment=body.segment,
            account_manager=body.account_manager,
            contacts=tuple(c.contact() for c in body.contacts),
            business_description=body.business_description,
            annual_revenue=body.annual_revenue,
            contact_policy=None if body.contact_policy is None else body.contact_policy.policy(),
            **issued,
        )
    )
    return dep.written(result)


@router.get(
    "",
    response_model=Page[ClientSummary],
    summary="List clients (optionally one account manager's)",
    dependencies=[read_after_position("clients")],
)
async def list_clients(
    account_manager: str | None = Query(None, max_length=200, pattern=NO_NUL),
    name: str | None = Query(None, max_length=200, pattern=NO_NUL, description="part of the client's name, any case"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.views),
    who=dep.clients_rule,
) -> Page:
    account_manager = dep.only_own(who, account_manager, "list the clients")
    items, total = await views.list_clients(account_manager, limit, offset, name=name)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get(
    "/{client_id}", response_model=ClientOut, summary="One client", dependencies=[read_after_position("clients")]
)
async def get_client(client_id: str, views=Depends(dep.views), who=Depends(dep.client_rule)) -> dict:
    client = await views.client(client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    return client


@router.get(
    "/{client_id}/timeline",
    response_model=Page[TimelineEntry],
    summary="Every event about the client, in order",
    dependencies=[read_after_position("clients", "timeline")],
)
async def client_timeline(
    client_id: str,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10_000_000),
    views=Depends(dep.views),
    who=Depends(dep.client_rule),
) -> Page:
    if await views.client(client_id) is None:
        raise NotFound(f"client {client_id} not found")
    items, total = await views.timeline(client_id, limit, offset)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.post("/{client_id}/notes", status_code=201, response_model=WriteOut, summary="Record a nuance")
async def add_note(
    client_id: str,
    body: NoteIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(await app.add_client_note(AddClientNote(client_id=client_id, text=body.text, **issued)))


@router.put(
    "/{client_id}/account-manager", response_model=WriteOut, summary="Hand the client to another account manager"
)
async def assign_account_manager(
    client_id: str,
    body: AccountManagerIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.reassign_rule),
) -> WriteOut:
    return dep.written(
        await app.assign_account_manager(
            AssignAccountManager(
                client_id=client_id,
                account_manager=body.account_manager,
                handover_note=body.handover_note,
                **issued,
            )
        )
    )


@router.put("/{client_id}/contact-policy", response_model=WriteOut, summary="Set how the client may be contacted")
async def set_contact_policy(
    client_id: str,
    body: ContactPolicyIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(
        await app.set_contact_policy(SetContactPolicy(client_id=client_id, policy=body.policy(), **issued))
    )


@router.put(
    "/{client_id}/parent-organisation",
    response_model=WriteOut,
    summary="The account belongs to a parent organisation: its contacts are decided with the organisation's other accounts",
)
async def group_under_parent(
    client_id: str,
    body: ParentOrganisationIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(
        await app.group_under_parent(
            GroupUnderParent(client_id=client_id, parent_organisation=body.parent_organisation, **issued)
        )
    )


@router.put(
    "/{client_id}/revenue",
    response_model=WriteOut,
    summary="Record the client's annual revenue (follow-up re-tiers them)",
)
async def change_revenue(
    client_id: str,
    body: RevenueIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(
        await app.change_revenue(ChangeRevenue(client_id=client_id, annual_revenue=body.annual_revenue, **issued))
    )
