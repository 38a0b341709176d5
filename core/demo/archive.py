"""The demo county's archive (民情档案): about 3,000 households and 8,000 persons over the demo
grids, with special groups, care levels, housing, vehicles, places, estates and property
companies. Demo only: every name, ID number, phone and plate is made up.

:func:`generate` is pure: one ``random.Random(SEED)`` draws everything in a fixed order, and
ages are drawn as of :data:`AS_OF` (not today), so the same households and persons come out
on every machine and every day. :func:`load_archive` writes them with Core ``executemany`` in
one transaction (no ORM unit of work per row) and assesses the elderly with the care rule
table (:func:`core.archives.care.evaluate`, with the county's thresholds and today's ages, as
:func:`core.archives.care_api.assess` does). It loads once: when any household with source
:data:`DEMO_SOURCE` exists, the demo archive is there (it is written all or nothing) and is
left as it is, even if users have since changed or removed some of it.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from stdnum.cn import ric, uscc

from core.archives.care import (
    ArchiveCareAssessment,
    ArchiveCareProfile,
    ArchivePersonTag,
    CareInputs,
    Thresholds,
    evaluate,
)
from core.archives.care_api import thresholds_for
from core.archives.categories import (
    ArchiveEstate,
    ArchiveHouse,
    ArchiveOwnersCommittee,
    ArchivePlace,
    ArchivePropertyCompany,
    ArchiveVehicle,
)
from core.archives.crypto import ArchiveCipher
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.archives.service import age_on
from core.audit.service import record
from core.db.types import utcnow
from core.units.codes import Level, parse_code

SEED = 3308_2026
AS_OF = date(2026, 1, 1)  # ages are drawn as of this day; it never moves
DEMO_SOURCE = "demo"
DEMO_ACTOR = "demo"
HOUSEHOLDS = 3000
ELDERLY_AGE = 60

# -- names ---------------------------------------------------------------------------------

# Common surnames, the most common first (with a few frequent in 衢州: 毛, 祝, 徐, 姜, 汪).
SURNAMES = (
    "王陈张李徐吴刘周杨毛郑黄叶祝汪姜方余朱胡何林赵程蒋孙郭邵童吕柴"
    "占江鲁傅华宋丁沈严翁范金袁杜潘戴夏钱韩冯罗谢许曹彭苏"
)
SURNAME_WEIGHTS = tuple(accumulate(1 / (rank + 4) for rank in range(len(SURNAMES))))
# Given-name characters by generation (born before 1960, 1960-1989, from 1990) and gender.
GIVEN = {
    ("old", "male"): "根土金福水财发宝德忠建国华明荣生林松富贵福寿长",
    ("old", "female"): "秀英兰凤珍花梅娟芳玉桂菊仙翠彩月香娥莲素",
    ("mid", "male"): "伟强军勇杰斌平辉华峰建文海波涛刚明卫东新志红军",
    ("mid", "female"): "丽芳敏静燕艳霞红萍玲娟英琴颖雪洁丹琳慧",
    ("young", "male"): "浩宇轩涵博文睿泽一晨俊杰昊然阳铭航嘉凯奕辰",
    ("young", "female"): "欣怡梓涵诗雨萱思佳琪可馨悦彤语若婷钰晗",
}
MOBILE_PREFIXES = (*range(130, 140), 150, 151, 152, 153, 157, 158, 159, 177, 180, 181, 187, 189)

# -- ID region codes -----------------------------------------------------------------------

# 衢州's county codes: a person's number carries where it was first issued, mostly the county
# of the grid, sometimes another county of the city. Resident ID numbers were first issued
# from 1984, so an elder born before 柯城区 existed (1985) still carries 330802.
REGIONS = ("330802", "330803", "330822", "330824", "330825", "330881")

# -- households ----------------------------------------------------------------------------

# Kinds of household and their weights in (urban 社区, rural 村) grids.
KINDS: dict[str, tuple[float, float]] = {
    "alone_elder": (6, 8),  # a widowed elder living alone
    "elder_couple": (9, 11),  # an elderly couple, children elsewhere (空巢)
    "single": (13, 9),
    "couple": (9, 6),
    "nuclear": (36, 28),  # a couple and their children
    "three_generations": (6, 8),  # a couple, their children and the head's parents
    "extended": (3, 7),  # an elderly head, a married son and grandchildren
    "adult_child": (9, 8),  # a couple in their fifties or sixties and a grown child
    "single_parent": (5, 3),
    "skipped_generation": (1, 7),  # grandparents with grandchildren, parents away (留守)
    "elder_with_child": (2, 4),  # an elderly widow(er) and an unmarried child
}
ESTATE_SUFFIXES = ("花园", "新村", "小区", "家园", "公寓", "嘉园", "雅苑", "名苑")
HAMLETS = (
    "塘坞",
    "后畈",
    "下垄",
    "东山",
    "西坑",
    "石门",
    "樟树底",
    "大塘",
    "黄泥山",
    "溪口",
    "上坞",
    "前山",
    "新屋",
    "岭脚",
)
HOUSE_USES = (("own", 84), ("rented", 12), ("other", 4))
CARS = (
    ("大众朗逸", 5, "petrol"),
    ("丰田卡罗拉", 5, "hybrid"),
    ("本田雅阁", 5, "petrol"),
    ("吉利帝豪", 5, "petrol"),
    ("长安CS75", 5, "petrol"),
    ("哈弗H6", 5, "petrol"),
    ("五菱宏光", 7, "petrol"),
    ("别克GL8", 7, "petrol"),
    ("日产轩逸", 5, "petrol"),
    ("比亚迪秦PLUS", 5, "electric"),
    ("零跑C11", 5, "electric"),
    ("比亚迪宋PLUS", 5, "hybrid"),
)
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# -- places --------------------------------------------------------------------------------

SHOP_WORDS = (
    "好又多",
    "惠民",
    "邻里",
    "鑫源",
    "百家",
    "金福",
    "润发",
    "众康",
    "佳佳",
    "开心",
    "阿福",
    "满堂",
)
URBAN_SHOPS = (  # (name pattern, opening hours, employees from, to)
    ("{w}便利店", "07:00-23:00", 1, 4),
    ("{s}记馄饨", "06:00-14:00", 1, 3),
    ("衢州烤饼{w}店", "06:00-19:00", 1, 3),
    ("{w}水果店", "08:00-21:00", 1, 3),
    ("{w}理发店", "09:00-21:00", 1, 5),
    ("{s}家面馆", "06:30-20:30", 2, 6),
    ("{w}大药房", "08:00-22:00", 3, 8),
    ("{w}超市", "07:30-22:00", 4, 15),
    ("{w}鸭头店", "10:00-21:00", 1, 3),
    ("{w}餐馆", "10:00-21:30", 3, 12),
    ("{w}茶楼", "09:00-23:00", 3, 10),
    ("{w}五金店", "08:00-18:00", 1, 3),
)
RURAL_SHOPS = (
    ("{v}{w}小卖部", "07:00-21:00", 1, 2),
    ("{s}家农家乐", "10:00-21:00", 3, 10),
    ("{v}{w}农资店", "08:00-18:00", 1, 3),
    ("{s}记米粉店", "06:00-13:00", 1, 3),
)

# -- special groups ------------------------------------------------------------------------

TAG_REASONS = {
    "gugua": "无子女，由村社关爱（演示）",
    "bereaved_family": "独生子女去世（演示）",
    "living_alone": "户内仅本人居住（演示）",
    "empty_nest": "老年夫妻同住，子女不在身边（演示）",
    "left_behind_elder": "子女外出务工（演示）",
    "disabled_elder": "生活不能完全自理（演示）",
    "severe_disability": "持一、二级残疾证（演示）",
    "extreme_poverty": "分散供养特困人员（演示）",
    "dibao": "享受最低生活保障（演示）",
    "left_behind_child": "父母外出务工，随祖父母生活（演示）",
    "hardship_child": "单亲低保家庭子女（演示）",
}


@dataclass(frozen=True)
class DemoPerson:
    """A member of a demo household."""

    name: str
    gender: str  # male | female
    birth_date: date
    id_number: str
    phone: str | None
    relation: str  # a key of core.archives.models.RELATIONS
    tags: tuple[str, ...] = ()  # keys of core.archives.care.TAGS
    care: tuple[str, str, bool, str] | None = None  # children, adl, risk, econ


@dataclass(frozen=True)
class DemoHouse:
    """The dwelling a household lives in; ``estate`` indexes :attr:`DemoArchive.estates`."""

    address: str
    estate: int | None
    building: str | None
    entrance: str | None
    floor: int | None
    room: str | None
    usage: str
    residence_type: str
    floor_area: float
    built_year: int


@dataclass(frozen=True)
class DemoVehicle:
    """A household's car; ``owner`` indexes the household's members."""

    plate: str
    brand: str
    seats: int
    energy: str
    parking_space: str | None
    owner: int


@dataclass(frozen=True)
class DemoHousehold:
    """One household (户) in a grid, with its members, dwelling and cars."""

    number: str
    address: str
    grid: str
    members: tuple[DemoPerson, ...]
    house: DemoHouse | None
    vehicles: tuple[DemoVehicle, ...]


@dataclass(frozen=True)
class DemoCompany:
    """A property-management company (物业企业)."""

    name: str
    credit_code: str
    contact_name: str
    contact_phone: str
    unit_code: str


@dataclass(frozen=True)
class DemoEstate:
    """An estate (小区) or natural village; ``company`` indexes :attr:`DemoArchive.companies`."""

    name: str
    address: str
    kind: str
    unit_code: str
    building_count: int | None
    house_count: int
    completed_year: int | None
    company: int | None


@dataclass(frozen=True)
class DemoCommittee:
    """An owners' committee (业委会) of an estate (index into :attr:`DemoArchive.estates`)."""

    estate: int
    chair_name: str
    member_count: int
    term_start: date
    term_end: date


@dataclass(frozen=True)
class DemoPlace:
    """A shop, restaurant, public venue or association (场所) in a grid."""

    name: str
    kind: str
    address: str
    unit_code: str
    credit_code: str | None
    manager_name: str
    manager_phone: str
    employees: int
    hazardous: bool
    opening_hours: str


@dataclass(frozen=True)
class DemoArchive:
    """Everything :func:`generate` draws, in the order it is written."""

    companies: tuple[DemoCompany, ...]
    estates: tuple[DemoEstate, ...]
    committees: tuple[DemoCommittee, ...]
    households: tuple[DemoHousehold, ...]
    places: tuple[DemoPlace, ...]

    def persons(self) -> Iterable[DemoPerson]:
        """Every member of every household, household by household."""
        return (p for h in self.households for p in h.members)


@dataclass
class ArchiveReport:
    """What :func:`load_archive` found or wrote: counts of the demo archive's records."""

    created: bool
    counts: dict[str, int] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)  # current care levels
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for ``sanmin demo``."""
        c = self.counts
        state = (
            f"新载入，用时 {self.seconds:.1f} 秒 / loaded"
            if self.created
            else "已存在，未改动 / already there, left as it is"
        )
        return (
            f"民情档案（演示数据）：{c['households']} 户、{c['persons']} 人、"
            f"{c['houses']} 处住房、{c['vehicles']} 辆车、{c['places']} 个场所、"
            f"{c['estates']} 个小区/自然村、{c['property_companies']} 家物业企业；"
            f"关爱等级 红 {self.levels.get('red', 0)} · 黄 {self.levels.get('yellow', 0)} · "
            f"绿 {self.levels.get('green', 0)}（{state}）"
        )


# -- drawing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    code: str
    village: str  # the 村社区's name
    township: str
    county: str
    urban: bool


def _grids(units: Sequence[tuple[str, str]]) -> list[_Grid]:
    names = dict(units)
    grids = []
    for code, _ in sorted(units):
        parsed = parse_code(code)
        if parsed.level is not Level.grid:
            continue
        village = names[parsed.ancestor_at(Level.village) or ""]
        grids.append(
            _Grid(
                code=code,
                village=village,
                township=names[parsed.ancestor_at(Level.township) or ""],
                county=names[parsed.ancestor_at(Level.county) or ""],
                urban=village.endswith("社区"),
            )
        )
    return grids


def _born(rng: random.Random, age: int) -> date:
    """A birth date giving ``age`` on :data:`AS_OF` (1 January: any day of the year before)."""
    return date(AS_OF.year - 1 - age, 1, 2) + timedelta(days=rng.randrange(364))


class _Drawer:
    """Draws the demo archive; every random choice goes through ``self.rng`` in order."""

    def __init__(self, units: Sequence[tuple[str, str]]) -> None:
        self.rng = random.Random(SEED)
        self.grids = _grids(units)
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.plates: set[str] = set()
        self.companies: list[DemoCompany] = []
        self.estates: list[DemoEstate] = []
        self.committees: list[DemoCommittee] = []
        self.places: list[DemoPlace] = []
        self.estate_houses: Counter[int] = Counter()
        self.rooms: set[tuple[int, str, str, str]] = set()

    # -- people --------------------------------------------------------------------------

    def surname(self) -> str:
        return self.rng.choices(SURNAMES, cum_weights=SURNAME_WEIGHTS)[0]

    def given(self, gender: str, born: date) -> str:
        era = "old" if born.year < 1960 else "mid" if born.year < 1990 else "young"
        pool = GIVEN[(era, gender)]
        size = 1 if self.rng.random() < 0.25 else 2
        return "".join(self.rng.sample(pool, size))

    def phone(self) -> str:
        while True:
            number = f"{self.rng.choice(MOBILE_PREFIXES)}{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def id_number(self, home: str, born: date, gender: str) -> str:
        """A valid 18-character number: region, birth date, sequence (odd for men) and the
        GB 11643 check character."""
        region = self.rng.choice(REGIONS) if self.rng.random() < 0.15 else home
        while True:
            parity = self.rng.randrange(5) * 2 + (1 if gender == "male" else 0)
            body = f"{region}{born:%Y%m%d}{self.rng.randrange(100):02d}{parity}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.ids:
                self.ids.add(number)
                return number

    def person(
        self,
        home: str,
        relation: str,
        age: int,
        gender: str,
        surname: str | None = None,
    ) -> DemoPerson:
        born = _born(self.rng, age)
        name = (surname or self.surname()) + self.given(gender, born)
        has_phone = age >= 16 and self.rng.random() < (0.65 if age >= 75 else 0.93)
        return DemoPerson(
            name=name,
            gender=gender,
            birth_date=born,
            id_number=self.id_number(home, born, gender),
            phone=self.phone() if has_phone else None,
            relation=relation,
        )

    def spouse_of(self, home: str, head: DemoPerson, head_age: int) -> DemoPerson:
        gender = "female" if head.gender == "male" else "male"
        shift = self.rng.randint(-5, 2) if gender == "female" else self.rng.randint(-2, 5)
        return self.person(home, "spouse", max(20, head_age + shift), gender)

    def child_of(
        self, home: str, father: DemoPerson, youngest_parent: int, relation: str = "child"
    ) -> list[tuple[DemoPerson, int]]:
        """A child born when the younger parent was 22 to 36 (none if that is still ahead)."""
        if youngest_parent < 22:
            return []
        age = self.rng.randint(max(0, youngest_parent - 36), youngest_parent - 22)
        gender = self.rng.choice(("male", "female"))
        surname = father.name[0] if father.gender == "male" else None
        return [(self.person(home, relation, age, gender, surname), age)]

    def members(self, kind: str, home: str) -> list[tuple[DemoPerson, int]]:
        """The members of one household of ``kind`` with their ages, the head first."""
        rng = self.rng
        out: list[tuple[DemoPerson, int]] = []

        def add(person: DemoPerson, age: int) -> DemoPerson:
            out.append((person, age))
            return person

        if kind == "alone_elder":
            age = min(99, int(rng.triangular(65, 96, 78)))
            add(self.person(home, "head", age, rng.choices(("male", "female"), (35, 65))[0]), age)
        elif kind == "elder_couple":
            age = int(rng.triangular(60, 92, 70))
            head = add(self.person(home, "head", age, "male"), age)
            spouse = self.spouse_of(home, head, age)
            add(spouse, age_on(spouse.birth_date, AS_OF))
        elif kind == "single":
            age = int(rng.triangular(20, 59, 27))
            add(self.person(home, "head", age, rng.choice(("male", "female"))), age)
        elif kind == "couple":
            age = rng.randint(23, 40)
            head = add(self.person(home, "head", age, "male"), age)
            spouse = self.spouse_of(home, head, age)
            add(spouse, age_on(spouse.birth_date, AS_OF))
        elif kind in ("nuclear", "three_generations"):
            age = rng.randint(28, 52)
            head = add(self.person(home, "head", age, "male"), age)
            spouse = self.spouse_of(home, head, age)
            wife_age = age_on(spouse.birth_date, AS_OF)
            add(spouse, wife_age)
            for _ in range(1 if rng.random() < 0.62 else 2):
                out += [c for c in self.child_of(home, head, min(age, wife_age)) if c[1] <= 24]
            if kind == "three_generations":
                father_age = min(98, age + rng.randint(24, 34))
                if rng.random() < 0.6:
                    add(self.person(home, "parent", father_age, "male", head.name[0]), father_age)
                mother_age = min(98, father_age - rng.randint(0, 4))
                add(self.person(home, "parent", mother_age, "female"), mother_age)
        elif kind == "extended":
            age = rng.randint(56, 72)
            head = add(self.person(home, "head", age, "male"), age)
            spouse = self.spouse_of(home, head, age)
            add(spouse, age_on(spouse.birth_date, AS_OF))
            son_age = age - rng.randint(24, 32)
            son = add(self.person(home, "child", son_age, "male", head.name[0]), son_age)
            wife_age = son_age + rng.randint(-4, 1)
            add(self.person(home, "child_in_law", wife_age, "female"), wife_age)
            for _ in range(1 if rng.random() < 0.7 else 2):
                out += self.child_of(home, son, min(son_age, wife_age), "grandchild")
        elif kind == "adult_child":
            age = rng.randint(48, 66)
            head = add(self.person(home, "head", age, "male"), age)
            spouse = self.spouse_of(home, head, age)
            wife_age = age_on(spouse.birth_date, AS_OF)
            add(spouse, wife_age)
            child_age = min(age, wife_age) - rng.randint(23, 30)
            gender = rng.choice(("male", "female"))
            add(self.person(home, "child", child_age, gender, head.name[0]), child_age)
        elif kind == "single_parent":
            age = rng.randint(30, 50)
            head = add(
                self.person(home, "head", age, rng.choices(("male", "female"), (3, 7))[0]), age
            )
            out += self.child_of(home, head, age)
        elif kind == "skipped_generation":
            age = rng.randint(58, 76)
            head = add(self.person(home, "head", age, "male"), age)
            if rng.random() < 0.8:
                spouse = self.spouse_of(home, head, age)
                add(spouse, age_on(spouse.birth_date, AS_OF))
            for _ in range(1 if rng.random() < 0.65 else 2):
                child_age = rng.randint(3, 15)
                gender = rng.choice(("male", "female"))
                add(self.person(home, "grandchild", child_age, gender, head.name[0]), child_age)
        else:  # elder_with_child
            age = rng.randint(76, 94)
            head = add(self.person(home, "head", age, rng.choice(("male", "female"))), age)
            child_age = age - rng.randint(26, 36)
            gender = rng.choice(("male", "female"))
            surname = head.name[0] if head.gender == "male" else None
            add(self.person(home, "child", child_age, gender, surname), child_age)
        return out

    # -- special groups and care inputs --------------------------------------------------

    def with_care(
        self, kind: str, urban: bool, members: list[tuple[DemoPerson, int]], childless: bool
    ) -> tuple[DemoPerson, ...]:
        """Members with their tags and, for the elderly, care inputs drawn to fit the
        household (``childless``: an elder without children, 孤寡)."""
        rng = self.rng
        size = len(members)
        poor = rng.random() < (0.02 if urban else 0.04)  # a 低保 household
        if kind == "single_parent" and rng.random() < 0.25:
            poor = True
        if childless:
            children = "none"
        elif kind in ("alone_elder", "elder_couple"):  # the children, one answer per household
            children = rng.choices(("same_city", "away", "none", "bereaved"), (50, 38, 8, 4))[0]
        elif kind == "skipped_generation":
            children = "away"
        else:  # the elderly live with a child
            children = "same_city"
        out = []
        for person, age in members:
            tags: list[str] = []
            care = None
            if age >= ELDERLY_AGE:
                frail = (0.05, 0.12, 0.28)[(age >= 70) + (age >= 80)]
                adl = (
                    rng.choices(("partial", "disabled", "dementia"), (5, 3, 2))[0]
                    if rng.random() < frail
                    else "self"
                )
                risk = rng.random() < (0.12 if age >= 80 else 0.06)
                if children == "none" and rng.random() < 0.3:
                    econ = "extreme"
                else:
                    econ = rng.choices(("general", "marginal", "low", "extreme"), (88, 4, 7, 1))[0]
                if poor and econ == "general":
                    econ = "low"
                care = (children, adl, risk, econ)
                tags += {"none": ["gugua"], "bereaved": ["bereaved_family"]}.get(children, [])
                if size == 1:
                    tags.append("living_alone")
                if kind == "elder_couple" and children in ("same_city", "away"):
                    tags.append("empty_nest")
                if children == "away" and not urban:
                    tags.append("left_behind_elder")
                if adl != "self":
                    tags.append("disabled_elder")
                if adl == "disabled" and risk:
                    tags.append("severe_disability")
                tags += {"extreme": ["extreme_poverty"], "low": ["dibao"]}.get(econ, [])
            else:
                if age >= 18 and rng.random() < 0.006:
                    tags.append("severe_disability")
                if poor and person.relation == "head":
                    tags.append("dibao")
                if age < 18 and kind == "skipped_generation":
                    tags.append("left_behind_child")
                if age < 18 and kind == "single_parent" and poor:
                    tags.append("hardship_child")
            out.append(DemoPerson(**{**vars(person), "tags": tuple(tags), "care": care}))
        return tuple(out)

    # -- estates, houses, cars -----------------------------------------------------------

    def company(self, grid: _Grid) -> int:
        """A property company for the urban estates of ``grid``'s township, based in its
        村社区."""
        city = grid.county if grid.county.endswith("市") else "衢州市"
        base = grid.township.removesuffix("街道").removesuffix("镇")
        self.companies.append(
            DemoCompany(
                name=f"{city}{base}物业服务有限公司",
                credit_code=self.credit_code("91", grid.code),
                contact_name=self.surname() + self.given("male", date(1980, 1, 1)),
                contact_phone=self.phone(),
                unit_code=grid.code[:12],
            )
        )
        return len(self.companies) - 1

    def credit_code(self, kind: str, county_code: str) -> str:
        """A 统一社会信用代码 with a valid GB 32100 check character."""
        body = f"{kind}{county_code[:6]}{self.rng.randrange(10**9):09d}"
        return body + uscc.calc_check_digit(body)

    def estates_for(self, grid: _Grid, company: int | None) -> list[int]:
        """The estates of an urban grid (1 or 2) or the natural village of a rural one."""
        rng = self.rng
        taken = {e.name for e in self.estates if e.unit_code[:12] == grid.code[:12]}
        made = []
        if not grid.urban:  # a natural village, its name unique in the 村
            hamlet = next(h for h in rng.sample(HAMLETS, len(HAMLETS)) if h not in taken)
            self.estates.append(
                DemoEstate(
                    name=hamlet,
                    address=f"{grid.county}{grid.township}{grid.village}{hamlet}",
                    kind="village",
                    unit_code=grid.code,
                    building_count=None,
                    house_count=0,
                    completed_year=None,
                    company=None,
                )
            )
            return [len(self.estates) - 1]
        base = grid.village.removesuffix("社区")
        suffixes = rng.sample(ESTATE_SUFFIXES, len(ESTATE_SUFFIXES))
        names = [base + s for s in suffixes] + [f"{base}{s}二期" for s in suffixes]
        for _ in range(1 if rng.random() < 0.5 else 2):
            name = next(n for n in names if n not in taken)
            taken.add(name)
            resettled = grid.township == "双港街道" and rng.random() < 0.5
            buildings = rng.randint(6, 24)
            self.estates.append(
                DemoEstate(
                    name=name,
                    address=f"{grid.county}{grid.township}{name}",
                    kind="resettlement" if resettled else "commercial",
                    unit_code=grid.code,
                    building_count=buildings,
                    house_count=buildings * rng.randint(24, 72),
                    completed_year=rng.randint(1995, 2018),
                    company=None if resettled else company,
                )
            )
            index = len(self.estates) - 1
            if not resettled and rng.random() < 0.6:
                start = date(rng.randint(2022, 2025), rng.randint(1, 12), 1)
                self.committees.append(
                    DemoCommittee(
                        estate=index,
                        chair_name=self.surname() + self.given("male", date(1965, 1, 1)),
                        member_count=rng.choice((5, 7, 9)),
                        term_start=start,
                        term_end=start.replace(year=start.year + 5) - timedelta(days=1),
                    )
                )
            made.append(index)
        return made

    def house(self, estates: list[int], number: int) -> DemoHouse:
        """A dwelling in one of ``estates``: a flat in a 小区, or house ``number`` of a
        natural village."""
        rng = self.rng
        index = rng.choice(estates)
        estate = self.estates[index]
        usage = rng.choices([u for u, _ in HOUSE_USES], [w for _, w in HOUSE_USES])[0]
        residence = "rented" if usage == "rented" else "bought"
        self.estate_houses[index] += 1
        if estate.kind == "village":
            return DemoHouse(
                address=f"{estate.address}{number}号",
                estate=index,
                building=None,
                entrance=None,
                floor=None,
                room=str(number),
                usage=usage,
                residence_type=residence,
                floor_area=float(rng.randrange(120, 320, 5)),
                built_year=rng.randint(1982, 2022),
            )
        assert estate.building_count is not None and estate.completed_year is not None
        while True:
            building = str(rng.randint(1, estate.building_count))
            entrance = str(rng.randint(1, 3))
            floor = rng.randint(1, 18)
            room = f"{floor}0{rng.randint(1, 4)}"
            if (index, building, entrance, room) not in self.rooms:
                self.rooms.add((index, building, entrance, room))
                break
        return DemoHouse(
            address=f"{estate.address}{building}幢{entrance}单元{room}室",
            estate=index,
            building=building,
            entrance=entrance,
            floor=floor,
            room=room,
            usage=usage,
            residence_type=residence,
            floor_area=float(rng.randrange(55, 145)) + rng.choice((0.0, 0.5)),
            built_year=estate.completed_year,
        )

    def plate(self) -> tuple[str, bool]:
        """A unique 浙H plate; new-energy plates (浙HD/浙HF + 5 digits) for electric cars."""
        rng = self.rng
        while True:
            electric = rng.random() < 0.18
            if electric:
                plate = f"浙H{rng.choice('DF')}{rng.randrange(10**5):05d}"
            else:
                plate = f"浙H{rng.choice(PLATE_LETTERS)}{rng.randrange(10**4):04d}"
            if plate not in self.plates:
                self.plates.add(plate)
                return plate, electric

    def vehicles(self, grid: _Grid, ages: list[int]) -> tuple[DemoVehicle, ...]:
        """A car (sometimes two) for some households with a member of driving age."""
        rng = self.rng
        drivers = [i for i, age in enumerate(ages) if 20 <= age <= 70]
        if not drivers or rng.random() > (0.42 if grid.urban else 0.3):
            return ()
        cars = []
        for n in range(1 if rng.random() < 0.85 else 2):
            plate, electric = self.plate()
            brand, seats, energy = rng.choice([c for c in CARS if (c[2] == "electric") == electric])
            space = f"B{rng.randint(1, 2)}-{rng.randint(1, 400):03d}" if grid.urban else None
            cars.append(DemoVehicle(plate, brand, seats, energy, space, drivers[n % len(drivers)]))
        return tuple(cars)

    # -- places --------------------------------------------------------------------------

    def places_for(self, grid: _Grid, first_of_village: bool) -> None:
        rng = self.rng
        county_code = grid.code[:6]
        street = grid.village.removesuffix("社区")
        street = street if street.endswith("街") else f"{street}路"
        where = f"{grid.county}{grid.township}"
        shops = URBAN_SHOPS if grid.urban else RURAL_SHOPS
        count = rng.randint(3, 5) if grid.urban else rng.randint(1, 3)
        for pattern, hours, low, high in rng.sample(shops, count):  # names differ in a grid
            name = pattern.format(
                w=rng.choice(SHOP_WORDS), s=self.surname(), v=grid.village.removesuffix("村")
            )
            number = rng.randint(1, 300)
            address = (
                f"{where}{street}{number}号" if grid.urban else f"{where}{grid.village}{number}号"
            )
            self.places.append(
                DemoPlace(
                    name=name,
                    kind="enterprise",
                    address=address,
                    unit_code=grid.code,
                    credit_code=self.credit_code("92", county_code),
                    manager_name=self.surname() + self.given("male", date(1978, 1, 1)),
                    manager_phone=self.phone(),
                    employees=rng.randint(low, high),
                    hazardous=False,
                    opening_hours=hours,
                )
            )
        if not first_of_village:
            return
        venues = [(f"{grid.village}党群服务中心", "public_venue", "08:30-17:30")]
        if not grid.urban:
            venues.append((f"{grid.village}文化礼堂", "public_venue", "08:00-21:00"))
        venues.append((f"{grid.village}老年协会", "social", "08:30-16:30"))
        for name, kind, hours in venues:
            self.places.append(
                DemoPlace(
                    name=name,
                    kind=kind,
                    address=f"{where}{grid.village}",
                    unit_code=grid.code,
                    credit_code=None,
                    manager_name=self.surname() + self.given("female", date(1975, 1, 1)),
                    manager_phone=self.phone(),
                    employees=rng.randint(2, 6),
                    hazardous=False,
                    opening_hours=hours,
                )
            )
        if grid.village == "沙湾村":  # one hazardous site in the demo: a filling station
            self.places.append(
                DemoPlace(
                    name="中国石化双港沙湾加油站",
                    kind="enterprise",
                    address=f"{where}{grid.village}320国道旁",
                    unit_code=grid.code,
                    credit_code=self.credit_code("91", county_code),
                    manager_name=self.surname() + self.given("male", date(1982, 1, 1)),
                    manager_phone=self.phone(),
                    employees=12,
                    hazardous=True,
                    opening_hours="00:00-24:00",
                )
            )

    # -- the whole county ----------------------------------------------------------------

    def draw(self) -> DemoArchive:
        rng = self.rng
        grids = self.grids
        weights = [rng.uniform(0.7, 1.3) for _ in grids]  # some grids are bigger
        total = sum(weights)
        shares = [HOUSEHOLDS * w / total for w in weights]
        sizes = [int(s) for s in shares]
        by_remainder = sorted(range(len(grids)), key=lambda i: sizes[i] - shares[i])
        for i in by_remainder[: HOUSEHOLDS - sum(sizes)]:
            sizes[i] += 1
        companies: dict[str, int] = {}
        seen_villages: set[str] = set()
        households: list[DemoHousehold] = []
        for grid, size in zip(grids, sizes, strict=True):
            company = None
            if grid.urban:
                township = grid.code[:9]
                if township not in companies:
                    companies[township] = self.company(grid)
                company = companies[township]
            estates = self.estates_for(grid, company)
            self.places_for(grid, grid.village not in seen_villages)
            seen_villages.add(grid.village)
            home = grid.code[:6]
            kinds = list(KINDS)
            kind_weights = [w[0] if grid.urban else w[1] for w in KINDS.values()]
            for n in range(1, size + 1):
                # Every grid's first household is a 孤寡老人 (red): each grid has one to visit.
                kind = "alone_elder" if n == 1 else rng.choices(kinds, kind_weights)[0]
                drawn = self.members(kind, home)
                members = self.with_care(kind, grid.urban, drawn, childless=n == 1)
                house = self.house(estates, n)
                ages = [age for _, age in drawn]
                households.append(
                    DemoHousehold(
                        number=f"{grid.code}{n:04d}",
                        address=house.address,
                        grid=grid.code,
                        members=members,
                        house=house if rng.random() < 0.92 else None,
                        vehicles=self.vehicles(grid, ages),
                    )
                )
        estates = tuple(
            DemoEstate(**{**vars(e), "house_count": self.estate_houses[i] + rng.randint(3, 20)})
            if e.kind == "village"
            else e
            for i, e in enumerate(self.estates)
        )
        return DemoArchive(
            companies=tuple(self.companies),
            estates=estates,
            committees=tuple(self.committees),
            households=tuple(households),
            places=tuple(self.places),
        )


def generate(units: Sequence[tuple[str, str]]) -> DemoArchive:
    """The demo archive over the grids among ``units`` (``(code, name)`` rows with their
    ancestors); the same every time for the same units."""
    return _Drawer(units).draw()


# -- writing -------------------------------------------------------------------------------

T = {
    "household": ArchiveHousehold.__table__,  # type: ignore[attr-defined]
    "person": ArchivePerson.__table__,  # type: ignore[attr-defined]
    "company": ArchivePropertyCompany.__table__,  # type: ignore[attr-defined]
    "estate": ArchiveEstate.__table__,  # type: ignore[attr-defined]
    "committee": ArchiveOwnersCommittee.__table__,  # type: ignore[attr-defined]
    "house": ArchiveHouse.__table__,  # type: ignore[attr-defined]
    "vehicle": ArchiveVehicle.__table__,  # type: ignore[attr-defined]
    "place": ArchivePlace.__table__,  # type: ignore[attr-defined]
    "tag": ArchivePersonTag.__table__,  # type: ignore[attr-defined]
    "profile": ArchiveCareProfile.__table__,  # type: ignore[attr-defined]
    "assessment": ArchiveCareAssessment.__table__,  # type: ignore[attr-defined]
}


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` with one executemany (batched into multi-row INSERTs)."""
    if rows:
        conn.execute(insert(table), rows)


def _insert_keyed(
    conn: Connection, table: Any, rows: list[dict[str, Any]], *keys: str
) -> dict[Any, int]:
    """Insert ``rows`` and return the new ids by the value of ``keys`` (a tuple when there
    are several), columns unique together among the demo rows.

    One SELECT, not ``INSERT … RETURNING``: with the ids in parameter order SQLite would
    run that one row at a time.
    """
    _insert(conn, table, rows)
    columns = [table.c[k] for k in keys]
    found = select(*columns, table.c.id).where(table.c.source == DEMO_SOURCE)
    return {(r[0] if len(keys) == 1 else tuple(r[:-1])): r[-1] for r in conn.execute(found)}


def _demo_persons() -> Any:
    return select(T["person"].c.id).where(T["person"].c.source == DEMO_SOURCE)


def _loaded(conn: Connection) -> bool:
    """Whether the demo archive is there: any household with the demo source."""
    households = T["household"]
    demo = select(households.c.id).where(households.c.source == DEMO_SOURCE)
    return bool(conn.execute(select(demo.exists())).scalar())


def demo_counts(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
    """The demo archive's records by kind, and its persons' current care levels."""

    def count(table: Any, where: Any) -> int:
        return conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()

    counts = {
        name: count(T[key], T[key].c.source == DEMO_SOURCE)
        for name, key in (
            ("households", "household"),
            ("persons", "person"),
            ("houses", "house"),
            ("vehicles", "vehicle"),
            ("places", "place"),
            ("estates", "estate"),
            ("property_companies", "company"),
            ("owners_committees", "committee"),
        )
    }
    for name, key in (("tags", "tag"), ("care_profiles", "profile")):
        counts[name] = count(T[key], T[key].c.person_id.in_(_demo_persons()))
    assessed = T["assessment"]
    levels = conn.execute(
        select(assessed.c.level, func.count())
        .where(assessed.c.current, assessed.c.person_id.in_(_demo_persons()))
        .group_by(assessed.c.level)
    )
    return counts, {level: n for level, n in levels}


def load_archive(
    engine: Engine, cipher: ArchiveCipher, units: Sequence[tuple[str, str]]
) -> ArchiveReport:
    """Write the demo archive of :func:`generate` unless it is there already; the units
    must exist. All in one transaction, so a demo household means the whole archive."""
    started = time.perf_counter()
    with Session(engine) as session:
        conn = session.connection()
        if _loaded(conn):
            return ArchiveReport(False, *demo_counts(conn))
        try:
            _write(session, conn, cipher, generate(units))
            session.commit()
        except IntegrityError:  # another process loading the demo at the same time
            session.rollback()
            conn = session.connection()
            if not _loaded(conn):
                raise
            return ArchiveReport(False, *demo_counts(conn))
        counts, levels = demo_counts(session.connection())
    return ArchiveReport(True, counts, levels, time.perf_counter() - started)


def _write(session: Session, conn: Connection, cipher: ArchiveCipher, demo: DemoArchive) -> None:
    """Every record of ``demo``, parents first, each table with one executemany; one audit
    entry for the whole load."""
    now = utcnow()
    stamps = {"source": DEMO_SOURCE, "created_at": now, "updated_at": now, "version": 1}
    by_place = ("unit_code", "name")
    companies = _insert_keyed(
        conn, T["company"], [vars(c) | stamps for c in demo.companies], *by_place
    )
    company_ids = [companies[c.unit_code, c.name] for c in demo.companies]
    contract = {"contract_start": date(2023, 1, 1), "contract_end": date(2027, 12, 31)}
    no_contract = dict.fromkeys(contract)
    estates = _insert_keyed(
        conn,
        T["estate"],
        [
            {k: v for k, v in vars(e).items() if k != "company"}
            | {"property_company_id": None if e.company is None else company_ids[e.company]}
            | (no_contract if e.company is None else contract)
            | stamps
            for e in demo.estates
        ],
        *by_place,
    )
    estate_ids = [estates[e.unit_code, e.name] for e in demo.estates]
    _insert(
        conn,
        T["committee"],
        [
            {k: v for k, v in vars(c).items() if k != "estate"}
            | {"estate_id": estate_ids[c.estate]}
            | stamps
            for c in demo.committees
        ],
    )
    _insert(conn, T["place"], [vars(p) | stamps for p in demo.places])
    households = _insert_keyed(
        conn,
        T["household"],
        [
            {"number": h.number, "address": h.address, "unit_code": h.grid} | stamps
            for h in demo.households
        ],
        "number",
    )
    hashes = {p.id_number: cipher.lookup_hash(p.id_number) for p in demo.persons()}
    persons = _insert_keyed(
        conn,
        T["person"],
        [
            {
                "name": p.name,
                "gender": p.gender,
                "birth_date": p.birth_date,
                "id_cipher": cipher.encrypt(p.id_number),
                "id_hash": hashes[p.id_number],
                "phone": p.phone,
                "household_id": households[h.number],
                "relation": p.relation,
                "unit_code": h.grid,
            }
            | stamps
            for h in demo.households
            for p in h.members
        ],
        "id_hash",
    )
    houses, cars = [], []
    for h in demo.households:
        hid = households[h.number]
        if h.house is not None:
            estate = None if h.house.estate is None else estate_ids[h.house.estate]
            houses.append(
                {k: v for k, v in vars(h.house).items() if k != "estate"}
                | {"estate_id": estate, "household_id": hid, "unit_code": h.grid}
                | stamps
            )
        for car in h.vehicles:
            owner = persons[hashes[h.members[car.owner].id_number]]
            cars.append(
                {k: v for k, v in vars(car).items() if k != "owner"}
                | {"usage": "own", "household_id": hid, "owner_id": owner}
                | stamps
            )
    _insert(conn, T["house"], houses)
    _insert(conn, T["vehicle"], cars)
    _write_care(session, conn, demo, {n: persons[h] for n, h in hashes.items()}, now)
    record(
        conn,
        actor=DEMO_ACTOR,
        action="archive.demo_load",
        target_type="import",
        target_id=DEMO_SOURCE,
        after={"households": len(households), "persons": len(persons), "seed": SEED},
        source=DEMO_SOURCE,
    )


def _write_care(
    session: Session, conn: Connection, demo: DemoArchive, ids: dict[str, int], now: Any
) -> None:
    """Tags, care profiles and each elder's level in force (``ids``: person ids by ID
    number), from the rule table with the county's thresholds and the person's age today,
    as ``care_api.assess`` computes it."""
    today = date.today()
    thresholds: dict[str, Thresholds] = {}
    tags, profiles, levels = [], [], []
    for household, p in ((h, p) for h in demo.households for p in h.members):
        pid = ids[p.id_number]
        tags += [
            {
                "person_id": pid,
                "tag": tag,
                "reason": TAG_REASONS[tag],
                "assigned_by": DEMO_ACTOR,
                "assigned_at": now,
            }
            for tag in p.tags
        ]
        if p.care is None:
            continue
        children, adl, risk, econ = p.care
        profiles.append(
            {
                "person_id": pid,
                "children": children,
                "adl": adl,
                "risk": risk,
                "econ": econ,
                "updated_at": now,
                "version": 1,
            }
        )
        county = household.grid[:6] + "000000"
        if county not in thresholds:
            thresholds[county] = thresholds_for(session, household.grid)
        age = age_on(p.birth_date, today)
        if age < thresholds[county].elderly_age:
            continue
        inputs = CareInputs(age, len(household.members) == 1, children, adl, risk, econ)
        result = evaluate(inputs, thresholds[county])
        levels.append(
            {
                "person_id": pid,
                "level": result.level,
                "rule": result.rule,
                "reason": result.reason,
                "origin": "rule",
                "actor": DEMO_ACTOR,
                "current": True,
                "created_at": now,
            }
        )
    _insert(conn, T["tag"], tags)
    _insert(conn, T["profile"], profiles)
    _insert(conn, T["assessment"], levels)
