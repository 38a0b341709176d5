"""The electorate (表决名册) of a matter, drawn from the registers and the archive when the
matter is published, and frozen from then on: the roll that is checked during the notice
period is the roll that votes, and the roll a recount divides by.

* Owners' matters: every owner of an active 专有部分 of the estate. An owner of several
  专有部分 is one voter, with their total floor area: the headcount counts each 专有部分
  once, but one owner of several as one (最高人民法院《关于审理建筑物区分所有权纠纷案件适用
  法律若干问题的解释》第八条、第九条). Their one ballot covers all their 专有部分.
* 村民会议: every archive person of the village aged 18 or over on the day of publication.
* 村民代表会议: the village's serving representatives.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlmodel import Session, col, func, select

from core import ArchivePerson

from .access import subtree
from .inputs import square_metres
from .models import Matter, Parcel, Representative, Voter
from .rules import Weight

ADULT_AGE = 18


def _adult_cutoff(today: date) -> date:
    """The latest birth date of someone 18 years old on ``today`` (29 February → 28th)."""
    try:
        return today.replace(year=today.year - ADULT_AGE)
    except ValueError:
        return today.replace(year=today.year - ADULT_AGE, day=28)


def draw(session: Session, matter: Matter, today: date) -> list[Voter]:
    """The roll ``matter`` would have if published ``today`` (not yet written)."""
    if matter.kind == "owners":
        return _owners(session, matter)
    if matter.meeting == "representatives_meeting":
        query = (
            select(ArchivePerson)
            .join(Representative, col(Representative.person_id) == col(ArchivePerson.id))
            .where(
                col(Representative.unit_code) == matter.village_code,
                col(Representative.active).is_(True),
            )
        )
    else:
        query = select(ArchivePerson).where(
            subtree(col(ArchivePerson.unit_code), matter.village_code),
            col(ArchivePerson.birth_date) <= _adult_cutoff(today),
        )
    return [
        Voter(matter_id=matter.id, person_id=p.id, household_id=p.household_id, name=p.name)  # type: ignore[arg-type]
        for p in session.exec(query.order_by(col(ArchivePerson.id)))
    ]


def _owners(session: Session, matter: Matter) -> list[Voter]:
    rows = session.exec(
        select(Parcel, ArchivePerson)
        .join(ArchivePerson, col(ArchivePerson.id) == col(Parcel.owner_person_id))
        .where(col(Parcel.estate_id) == matter.estate_id, col(Parcel.active).is_(True))
        .order_by(col(Parcel.owner_person_id), col(Parcel.label))
    )
    owned: dict[int, list[Parcel]] = defaultdict(list)
    people: dict[int, ArchivePerson] = {}
    for parcel, person in rows:
        owned[parcel.owner_person_id].append(parcel)
        people[parcel.owner_person_id] = person
    return [
        Voter(
            matter_id=matter.id,  # type: ignore[arg-type]
            person_id=owner,
            household_id=people[owner].household_id,
            name=people[owner].name,
            parcels="、".join(f"{p.label}（{square_metres(p.area)}㎡）" for p in parcels)[:500],
            area=sum(p.area for p in parcels),
        )
        for owner, parcels in owned.items()
    ]


def freeze(session: Session, matter: Matter, today: date) -> Weight:
    """Write ``matter``'s roll (once: it must have none yet) and return its total weight."""
    voters = draw(session, matter, today)
    session.add_all(voters)
    session.flush()
    return Weight(sum(v.heads for v in voters), sum(v.area for v in voters))


def totals(session: Session, matter_id: int) -> Weight:
    """The total weight of a matter's roll, summed in SQL from the stored voters."""
    heads, area = session.exec(
        select(
            func.coalesce(func.sum(Voter.heads), 0), func.coalesce(func.sum(Voter.area), 0)
        ).where(col(Voter.matter_id) == matter_id)
    ).one()
    return Weight(int(heads), int(area))


def voter_of(session: Session, matter_id: int, person_id: int) -> Voter | None:
    """The roll's entry of an archive person, if they are on it."""
    return session.exec(
        select(Voter).where(col(Voter.matter_id) == matter_id, col(Voter.person_id) == person_id)
    ).first()
