"""The rules that decide an outcome (表决规则), as data, with exact arithmetic.

A :class:`DecisionRule` says what share of the electorate must take part (the quorum) and
what share must approve, of the participants or of the whole electorate (应到), by headcount
and, for owners, by floor area as well. Shares are :class:`fractions.Fraction` and every
comparison is done on integers (areas are kept in hundredths of a square metre), so "exactly
two thirds" is exactly two thirds: no float ever decides an outcome.

Chinese law words, as 民法典 第一千二百五十九条 defines them: "以上" includes the number
itself (``strict=False``: at least), "过半数" / "超过" does not (``strict=True``: more than).

* Owners' matters (业主共同决定, 民法典 第二百七十八条): owners holding at least 2/3 of the
  floor area **and** at least 2/3 of the headcount take part; a matter of items (六)–(八)
  (raising maintenance funds, rebuilding, changing the use of common parts) then needs at
  least 3/4 of the participating area **and** headcount, every other matter more than half
  of both. :data:`OWNER_TYPES` maps each item to its rule.
* Village matters (村民委员会组织法 第二十二条, 第二十六条): the villagers' meeting needs more
  than half of the adult villagers, the representatives' meeting at least 2/3 of its members;
  both decide by more than half of those present. :data:`MEETINGS`.
* The first three steps of 四议两公开 are meetings recorded with their attendance, each with
  its own rule (:data:`STEP_RULES`).

A matter keeps the rule it was published under (its code and thresholds), so a later change
of these tables never changes a result already counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Base = Literal["participants", "electorate"]

_NAMES = {Fraction(1, 2): "半数", Fraction(2, 3): "三分之二", Fraction(3, 4): "四分之三"}


@dataclass(frozen=True)
class Threshold:
    """A share a count must reach of a whole: ``strict`` means more than (过半数, 超过), else
    at least (以上, the number itself included)."""

    share: Fraction
    strict: bool

    def met(self, part: int, whole: int) -> bool:
        """Whether ``part`` of ``whole`` reaches the share (never when ``whole`` is 0)."""
        if whole <= 0:
            return False
        ratio = Fraction(part, whole)
        return ratio > self.share if self.strict else ratio >= self.share

    @property
    def label(self) -> str:
        """In Chinese: 过半数, 三分之二以上, 四分之三以上, 超过三分之二 …"""
        name = _NAMES.get(self.share, f"{self.share.numerator}/{self.share.denominator}")
        if self.strict:
            return "过半数" if self.share == Fraction(1, 2) else f"超过{name}"
        return f"{name}以上（含本数）"

    def encode(self) -> str:
        """``"2/3"`` or ``">1/2"``: how a matter stores it."""
        return f"{'>' if self.strict else ''}{self.share.numerator}/{self.share.denominator}"

    @classmethod
    def decode(cls, text: str) -> Threshold:
        """The inverse of :meth:`encode`."""
        strict = text.startswith(">")
        return cls(Fraction(text.removeprefix(">")), strict)


AT_LEAST_TWO_THIRDS = Threshold(Fraction(2, 3), strict=False)
AT_LEAST_THREE_QUARTERS = Threshold(Fraction(3, 4), strict=False)
MORE_THAN_HALF = Threshold(Fraction(1, 2), strict=True)


@dataclass(frozen=True)
class DecisionRule:
    """How a vote is decided: ``quorum`` of the electorate must take part, then ``approval``
    of the ``approval_base`` (the participants, or the electorate: 应到) must agree; with
    ``by_area`` both thresholds hold by headcount **and** by floor area."""

    code: str
    title: str
    basis: str
    quorum: Threshold
    approval: Threshold
    approval_base: Base = "participants"
    by_area: bool = False

    def summary(self) -> str:
        """One line in Chinese, as the pages show it."""
        measure = "专有部分面积和人数均" if self.by_area else "人数"
        base = "参与表决" if self.approval_base == "participants" else "应到"
        return (
            f"参与表决的{measure}达到{self.quorum.label}，且{base}{measure}"
            f"{self.approval.label}同意（{self.basis}）"
        )


@dataclass(frozen=True)
class Weight:
    """A headcount and a floor area in hundredths of a square metre (0 where area does not
    count)."""

    heads: int = 0
    area: int = 0

    def __add__(self, other: Weight) -> Weight:
        return Weight(self.heads + other.heads, self.area + other.area)


@dataclass(frozen=True)
class Decision:
    """What a rule found: each threshold by headcount and by area, and the outcome."""

    quorum_heads: bool
    quorum_area: bool
    approval_heads: bool
    approval_area: bool

    @property
    def quorum_met(self) -> bool:
        return self.quorum_heads and self.quorum_area

    @property
    def approved(self) -> bool:
        return self.approval_heads and self.approval_area

    @property
    def passed(self) -> bool:
        return self.quorum_met and self.approved


def decide(rule: DecisionRule, electorate: Weight, participants: Weight, agree: Weight) -> Decision:
    """Apply ``rule``: ``participants`` of ``electorate`` took part and ``agree`` approved.

    Where the rule does not count area, the area checks hold trivially.
    """
    base = participants if rule.approval_base == "participants" else electorate
    return Decision(
        quorum_heads=rule.quorum.met(participants.heads, electorate.heads),
        quorum_area=not rule.by_area or rule.quorum.met(participants.area, electorate.area),
        approval_heads=rule.approval.met(agree.heads, base.heads),
        approval_area=not rule.by_area or rule.approval.met(agree.area, base.area),
    )


CIVIL_CODE = "民法典第二百七十八条"
OWNERS_ORDINARY = DecisionRule(
    "owners_ordinary",
    "业主共同决定（一般事项）",
    CIVIL_CODE,
    quorum=AT_LEAST_TWO_THIRDS,
    approval=MORE_THAN_HALF,
    by_area=True,
)
OWNERS_MAJOR = DecisionRule(
    "owners_major",
    "业主共同决定（第六项至第八项重大事项）",
    CIVIL_CODE,
    quorum=AT_LEAST_TWO_THIRDS,
    approval=AT_LEAST_THREE_QUARTERS,
    by_area=True,
)
VILLAGERS_MEETING = DecisionRule(
    "villagers_meeting",
    "村民会议",
    "村民委员会组织法第二十二条",
    quorum=MORE_THAN_HALF,
    approval=MORE_THAN_HALF,
)
REPRESENTATIVES_MEETING = DecisionRule(
    "representatives_meeting",
    "村民代表会议",
    "村民委员会组织法第二十六条",
    quorum=AT_LEAST_TWO_THIRDS,
    approval=MORE_THAN_HALF,
)
RULES = {
    rule.code: rule
    for rule in (OWNERS_ORDINARY, OWNERS_MAJOR, VILLAGERS_MEETING, REPRESENTATIVES_MEETING)
}


@dataclass(frozen=True)
class MatterType:
    """A kind of owners' matter (民法典 第二百七十八条 第一款 的一项) and the rule it is decided
    by; ``election`` matters elect members with candidates and seats."""

    code: str
    title: str
    item: str
    rule: DecisionRule
    election: bool = False


OWNER_TYPES = {
    t.code: t
    for t in (
        MatterType("rules", "制定和修改业主大会议事规则", "（一）", OWNERS_ORDINARY),
        MatterType("covenant", "制定和修改管理规约", "（二）", OWNERS_ORDINARY),
        MatterType(
            "committee_election",
            "选举业主委员会或者更换业主委员会成员",
            "（三）",
            OWNERS_ORDINARY,
            election=True,
        ),
        MatterType(
            "property_manager", "选聘和解聘物业服务企业或者其他管理人", "（四）", OWNERS_ORDINARY
        ),
        MatterType("fund_use", "使用建筑物及其附属设施的维修资金", "（五）", OWNERS_ORDINARY),
        MatterType("fund_raise", "筹集建筑物及其附属设施的维修资金", "（六）", OWNERS_MAJOR),
        MatterType("rebuild", "改建、重建建筑物及其附属设施", "（七）", OWNERS_MAJOR),
        MatterType(
            "common_use", "改变共有部分的用途或者利用共有部分从事经营活动", "（八）", OWNERS_MAJOR
        ),
        MatterType("other", "有关共有和共同管理权利的其他重大事项", "（九）", OWNERS_ORDINARY),
    )
}

# The villagers' (representatives') meeting that decides a village matter (决议).
MEETINGS = {
    "villagers_meeting": VILLAGERS_MEETING,
    "representatives_meeting": REPRESENTATIVES_MEETING,
}
# What a village matter is about (社区协商 and 四议两公开 topics): labels only, the meeting
# decides the rule.
VILLAGE_TOPICS = {
    "planning": "村庄规划与建设项目",
    "regulations": "村规民约、村民自治章程",
    "assets": "集体资产、资源的经营与处置",
    "distribution": "集体收益分配、成员资格",
    "homestead": "宅基地使用方案",
    "welfare": "公益事业与兴办项目",
    "elevator": "加装电梯等涉及多户的事项",
    "other": "其他村级重大事项",
}

# The first three of 四议两公开, each a meeting whose attendance is recorded (应到/实到/表决).
STEP_RULES = {
    "proposal": DecisionRule(
        "branch_committee",
        "村党组织提议（支部委员会会议）",
        "中国共产党支部工作条例（试行）",
        quorum=MORE_THAN_HALF,
        approval=MORE_THAN_HALF,
        approval_base="electorate",
    ),
    "discussion": DecisionRule(
        "joint_committees",
        "村“两委”商议（联席会议）",
        "四议两公开工作法",
        quorum=MORE_THAN_HALF,
        approval=MORE_THAN_HALF,
    ),
    "review": DecisionRule(
        "party_members",
        "党员大会审议",
        "四议两公开工作法",
        quorum=AT_LEAST_TWO_THIRDS,
        approval=MORE_THAN_HALF,
        approval_base="electorate",
    ),
}

APPROVE = "同意"
OPTIONS = (APPROVE, "反对", "弃权")


def rule_for(kind: str, matter_type: str, meeting: str | None) -> DecisionRule:
    """The rule a new matter of ``kind`` is decided by: its type's (owners), its meeting's
    (village). ``KeyError`` for an unknown type or meeting."""
    if kind == "owners":
        return OWNER_TYPES[matter_type].rule
    return MEETINGS[meeting or ""]
